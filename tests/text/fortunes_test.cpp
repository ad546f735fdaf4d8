// The fortune files: entries split at "%" lines, joined into one line, categories from the file
// names, index files, long entries and invalid UTF-8 skipped.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "selfsup/text/fortunes.h"
#include "support/error_of.h"

namespace text = selfsup::text;
namespace fs = std::filesystem;

TEST(Fortunes, EntriesByCategory) {
  const auto dir = fs::temp_directory_path() / "selfsup_fortunes_test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "science") << "E = mc^2.\n%\nNature abhors\n   a vacuum.\n%\n%\n" << std::string(500, 'x') << "\n%\n";
  std::ofstream(dir / "riddles") << "Q: What is it?\r\nA: A riddle.\r\n%\nbad \xFF byte\n%\nlast one without a separator\n";
  std::ofstream(dir / "science.dat") << "binary index";
  const auto f = text::read_fortunes(dir.string());
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[0].category, "riddles");
  EXPECT_EQ(f[0].text, "Q: What is it? A: A riddle.");
  EXPECT_EQ(f[1].text, "last one without a separator");
  EXPECT_EQ(f[2].category, "science");
  EXPECT_EQ(f[2].text, "E = mc^2.");
  EXPECT_EQ(f[3].text, "Nature abhors a vacuum.");
  EXPECT_NE(selfsup::testing::error_of([] { text::read_fortunes("/nonexistent/fortunes"); }).find("is not a folder"),
            std::string::npos);
  const auto empty = fs::temp_directory_path() / "selfsup_fortunes_empty";
  fs::create_directories(empty);
  EXPECT_NE(selfsup::testing::error_of([&] { text::read_fortunes(empty.string()); }).find("no entry"), std::string::npos);
}
