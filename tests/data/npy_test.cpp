// data/npy.h: the .npy bytes numpy writes, and back.
#include <gtest/gtest.h>

#include <cstring>

#include "selfsup/data/npy.h"

using namespace selfsup;

namespace {

TEST(Npy, HeaderIsNumpysForA2dFloatArray) {
  const auto bytes = data::npy_bytes(torch::tensor({{1.0f, 2.0f, 3.0f}, {4.0f, 5.0f, 6.0f}}));
  ASSERT_EQ(bytes.size(), 128u + 6 * 4);  // magic, version, length and a 118-byte header: 128
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_EQ(static_cast<uint8_t>(bytes[8]) + 256 * static_cast<uint8_t>(bytes[9]), 118);
  const auto header = bytes.substr(10, 118);
  EXPECT_EQ(header.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (2,3), }", 0), 0u) << header;
  EXPECT_EQ(header.back(), '\n');
  float first = 0;
  std::memcpy(&first, bytes.data() + 128, 4);
  EXPECT_EQ(first, 1.0f);
}

TEST(Npy, RoundTripsEveryDtypeAndShape) {
  for (const auto& t : {torch::randn({5, 3}), torch::randn({7}, torch::kFloat64), torch::arange(12).reshape({2, 3, 2}),
                        torch::randint(0, 255, {4, 4}).to(torch::kUInt8), torch::tensor(3, torch::kInt32),
                        torch::zeros({0, 4})}) {
    const auto back = data::parse_npy(data::npy_bytes(t), "t");
    EXPECT_EQ(back.scalar_type(), t.scalar_type());
    EXPECT_EQ(back.sizes(), t.sizes());
    EXPECT_TRUE(torch::equal(back, t));
    EXPECT_EQ(data::npy_bytes(t).size() % 64, static_cast<size_t>(t.numel() * t.element_size()) % 64);
  }
  EXPECT_TRUE(torch::equal(data::parse_npy(data::npy_bytes(torch::arange(6).reshape({2, 3}).t()), "t"),
                           torch::arange(6).reshape({2, 3}).t()));
}

TEST(Npy, DamagedBytesAndOtherDtypesAreErrors) {
  const auto bytes = data::npy_bytes(torch::randn({4, 4}));
  EXPECT_THROW(data::parse_npy(bytes.substr(0, bytes.size() - 4), "f.npy"), c10::Error);
  EXPECT_THROW(data::parse_npy("hello", "f.npy"), c10::Error);
  EXPECT_THROW(data::npy_bytes(torch::ones({2}, torch::kBool)), c10::Error);
  try {
    data::parse_npy(bytes.substr(0, bytes.size() - 4), "f.npy");
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what_without_backtrace()).find("truncated"), std::string::npos);
  }
}

}  // namespace
