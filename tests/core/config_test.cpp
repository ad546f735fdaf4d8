#include <gtest/gtest.h>

#include "selfsup/core/config.h"
#include "selfsup/core/runtime.h"

using selfsup::Config;

TEST(Config, ReadsNestedKeysWithDefaults) {
  auto c = Config::parse("train:\n  lr: 0.5\n  epochs: 3\nname: x\n");
  EXPECT_DOUBLE_EQ(c.get<double>("train.lr", 0.0), 0.5);
  EXPECT_EQ(c.get<int>("train.epochs", 0), 3);
  EXPECT_EQ(c.get<int>("train.batch_size", 256), 256);
  EXPECT_EQ(c.get<std::string>("name", ""), "x");
}

TEST(Config, SetOverridesAndCreatesSections) {
  auto c = Config::parse("train:\n  lr: 0.5\n");
  c.set("train.lr=0.25");
  c.set("model.backbone=resnet18");
  c.set("augment.views=[a, b]");
  EXPECT_DOUBLE_EQ(c.get<double>("train.lr", 0.0), 0.25);
  EXPECT_EQ(c.get<std::string>("model.backbone", ""), "resnet18");
  EXPECT_EQ(c.node("augment.views").size(), 2u);
}

TEST(Config, WrongTypeNamesKeyAndValue) {
  auto c = Config::parse("train:\n  lr: fast\n");
  try {
    c.get<double>("train.lr", 0.0);
    FAIL() << "expected an error";
  } catch (const c10::Error& e) {
    EXPECT_NE(e.msg().find("train.lr"), std::string::npos) << e.msg();
    EXPECT_NE(e.msg().find("fast"), std::string::npos) << e.msg();
  }
}

TEST(Config, UnreadKeysAreReported) {
  auto c = Config::parse("train:\n  lr: 0.5\n  lrr: 1\n");
  c.get<double>("train.lr", 0.0);
  ASSERT_EQ(c.unused_keys(), std::vector<std::string>{"train.lrr"});
  EXPECT_THROW(c.check_all_used(), c10::Error);
}

TEST(Config, LookupsDoNotMutateTheTree) {
  auto c = Config::parse("a:\n  b: 1\n");
  EXPECT_FALSE(c.has("a.c"));
  EXPECT_FALSE(c.has("x.y"));
  EXPECT_EQ(c.dump(), Config::parse("a:\n  b: 1\n").dump());
}

TEST(Config, MissingFileNamesThePath) {
  try {
    Config::load("/nonexistent/cfg.yaml");
    FAIL();
  } catch (const c10::Error& e) {
    EXPECT_NE(e.msg().find("/nonexistent/cfg.yaml"), std::string::npos);
  }
}

// A repeated key would otherwise keep one of its values silently.
TEST(Config, DuplicateKeysNameTheKeyAndBothLines) {
  for (const auto& [text, expected] : std::vector<std::pair<std::string, std::string>>{
           {"train:\n  lr: 1\n  lr: 2\n", "'train.lr' is given twice (line 2 and line 3)"},
           {"a: 1\nb: {c: 1, c: 2}\n", "'b.c' is given twice"},
           {"a: 1\na: {x: 2}\n", "'a' is given twice (line 1 and line 2)"},
           {"l: [{k: 1, k: 2}]\n", "'l.k' is given twice"}}) {
    try {
      Config::parse(text);
      FAIL() << "accepted " << text;
    } catch (const c10::Error& e) {
      EXPECT_NE(e.msg().find(expected), std::string::npos) << e.msg();
    }
  }
  EXPECT_NO_THROW(Config::parse("a: {k: 1}\nb: {k: 2}\nl: [{k: 1}, {k: 2}]\n"));
}

TEST(Runtime, DerivedSeedsDifferPerStream) {
  EXPECT_NE(selfsup::derive_seed(1, "data"), selfsup::derive_seed(1, "augment"));
  EXPECT_EQ(selfsup::derive_seed(1, "data"), selfsup::derive_seed(1, "data"));
  EXPECT_THROW(selfsup::parse_device("tpu"), c10::Error);
}
