// CenterNet decode (kernels/detect/decode.h) against the contract: the
// 3 x 3 same-class peak test with neighbours outside the map skipped, the
// top K by value with equal values in increasing flat index (a stable sort
// of the whole map here), and the rows' box arithmetic. Plateaus (equal
// neighbours are all peaks), maps with fewer peaks than K (zeros are then
// ranked by index), K = every element, single pixels, extreme wh, and the
// detector's own 128 x 128 x 80 map with K = 100.
#include "kernels/detect/decode.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "tests/kernels/detect/detect_reference.h"

namespace fxserve::kernels::detect_test {
namespace {

using Row = std::array<int64_t, 6>;

std::vector<Row> DecodeRef(const std::vector<int64_t>& k,
                           const std::vector<int64_t>& wh, int h, int w,
                           int classes, int top_k) {
  const int n = h * w * classes;
  std::vector<int64_t> p(n);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      for (int c = 0; c < classes; ++c) {
        const int64_t v = k[(y * w + x) * classes + c];
        int64_t most = v;
        for (int dy = -1; dy <= 1; ++dy) {
          for (int dx = -1; dx <= 1; ++dx) {
            const int ny = y + dy, nx = x + dx;
            if (ny < 0 || ny >= h || nx < 0 || nx >= w) continue;
            most = std::max(most, k[(ny * w + nx) * classes + c]);
          }
        }
        p[(y * w + x) * classes + c] = v == most ? v : 0;
      }
    }
  }
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return p[a] > p[b]; });
  std::vector<Row> rows;
  for (int r = 0; r < top_k; ++r) {
    const int i = order[r];
    const int c = i % classes;
    const int x = (i / classes) % w;
    const int y = i / (classes * w);
    const int64_t* e = &wh[(y * w + x) * 4];
    rows.push_back(
        {x * 64 - e[0], y * 64 - e[1], x * 64 + e[2], y * 64 + e[3], p[i], c});
  }
  return rows;
}

template <int kH, int kW, int kC, int kK>
struct Cfg {
  static constexpr int kHeight = kH;
  static constexpr int kWidth = kW;
  static constexpr int kClasses = kC;
  static constexpr int kTopK = kK;
};

template <class Config>
std::vector<Row> RunDecode(const std::vector<int64_t>& k,
                           const std::vector<int64_t>& wh) {
  PixelStream<detect::keypoint_t, Config::kClasses> keypoints;
  PixelStream<detect::wh_t, detect::kWhChannels> extents;
  PushMap(k, keypoints);
  PushMap(wh, extents);
  auto det = std::make_unique<detect::detection_t[][detect::kDetectionFields]>(
      Config::kTopK);
  detect::Decode<Config>(keypoints, extents, det.get());
  EXPECT_EQ(keypoints.size(), 0u);
  EXPECT_EQ(extents.size(), 0u);
  std::vector<Row> rows(Config::kTopK);
  for (int r = 0; r < Config::kTopK; ++r) {
    for (int f = 0; f < 6; ++f) rows[r][f] = det[r][f].to_int64();
  }
  return rows;
}

template <class Config>
void ExpectRows(const std::vector<int64_t>& k, const std::vector<int64_t>& wh,
                const std::string& what) {
  const std::vector<Row> want = DecodeRef(
      k, wh, Config::kHeight, Config::kWidth, Config::kClasses, Config::kTopK);
  const std::vector<Row> got = RunDecode<Config>(k, wh);
  int reported = 0;
  for (int r = 0; r < Config::kTopK && reported < 5; ++r) {
    if (got[r] == want[r]) continue;
    ADD_FAILURE() << what << ": row " << r << " kernel [" << got[r][0] << " "
                  << got[r][1] << " " << got[r][2] << " " << got[r][3] << " "
                  << got[r][4] << " " << got[r][5] << "], reference ["
                  << want[r][0] << " " << want[r][1] << " " << want[r][2] << " "
                  << want[r][3] << " " << want[r][4] << " " << want[r][5]
                  << "]";
    ++reported;
  }
}

template <class Config>
std::vector<int64_t> RandomWh(std::mt19937& rng) {
  return RandomCodes(rng, Config::kHeight * Config::kWidth * 4, -32768, 32767);
}

template <class Config>
void CheckRandom(unsigned seed, int64_t most_code, int trials = 6) {
  std::mt19937 rng(seed);
  const int n = Config::kHeight * Config::kWidth * Config::kClasses;
  for (int t = 0; t < trials; ++t) {
    ExpectRows<Config>(RandomCodes(rng, n, 0, most_code), RandomWh<Config>(rng),
                       "trial " + std::to_string(t) + " codes 0.." +
                           std::to_string(most_code));
    if (::testing::Test::HasFailure()) return;
  }
}

TEST(Decode, TieHeavyPlateaus) {
  // Codes 0..3: many equal neighbours (all of them peaks) and equal values
  // across the map, ranked by flat index.
  CheckRandom<Cfg<5, 7, 3, 10>>(1, 3);
  CheckRandom<Cfg<6, 4, 5, 50>>(2, 2);
  CheckRandom<Cfg<9, 2, 1, 7>>(3, 1);
}

TEST(Decode, FewerPeaksThanRows) {
  // 8 x 8 x 4 has about 28 peaks: the rest of the 60 rows are zeros in
  // increasing flat index.
  CheckRandom<Cfg<8, 8, 4, 60>>(10, 32768);
  // K = every element: the whole order.
  CheckRandom<Cfg<3, 1, 2, 6>>(11, 5);
  CheckRandom<Cfg<4, 4, 2, 32>>(12, 32768);
  CheckRandom<Cfg<1, 1, 1, 1>>(13, 32768);
}

TEST(Decode, FlatMapsRankByIndex) {
  using C = Cfg<4, 5, 3, 24>;
  std::mt19937 rng(20);
  for (int64_t code : {int64_t{0}, int64_t{7}, int64_t{32768}}) {
    ExpectRows<C>(std::vector<int64_t>(4 * 5 * 3, code), RandomWh<C>(rng),
                  "all " + std::to_string(code));
  }
  // One class flat at the top code: its pixels win in raster order.
  std::vector<int64_t> k = RandomCodes(rng, 4 * 5 * 3, 0, 30000);
  for (int i = 1; i < 4 * 5 * 3; i += 3) k[i] = 32768;
  ExpectRows<C>(k, RandomWh<C>(rng), "class 1 flat");
  const std::vector<Row> rows = DecodeRef(k, RandomWh<C>(rng), 4, 5, 3, 24);
  EXPECT_EQ(rows[0][4], 32768);
  EXPECT_EQ(rows[0][5], 1);
}

TEST(Decode, BoxArithmetic) {
  // A single peak at (y, x) = (2, 3), class 1, with chosen extents.
  using C = Cfg<4, 5, 2, 1>;
  std::vector<int64_t> k(4 * 5 * 2, 0);
  k[(2 * 5 + 3) * 2 + 1] = 30000;
  std::vector<int64_t> wh(4 * 5 * 4, 0);
  const int64_t e[4] = {-32768, 32767, 100, -5};
  for (int b = 0; b < 4; ++b) wh[(2 * 5 + 3) * 4 + b] = e[b];
  const std::vector<Row> rows = RunDecode<C>(k, wh);
  const Row want = {3 * 64 + 32768, 2 * 64 - 32767, 3 * 64 + 100,
                    2 * 64 - 5,     30000,          1};
  EXPECT_EQ(rows[0], want);
}

TEST(Decode, DetectorSizedMap) {
  using C = Cfg<128, 128, 80, 100>;
  constexpr int kN = 128 * 128 * 80;
  std::mt19937 rng(30);
  // Uniform codes: ~1/9 of the map are peaks and the top values repeat.
  ExpectRows<C>(RandomCodes(rng, kN, 0, 32768), RandomWh<C>(rng), "uniform");
  // Keypoints as the head makes them: sigmoid of mostly negative logits
  // with scattered objects.
  std::vector<int64_t> k(kN);
  for (int i = 0; i < kN; ++i) {
    const int64_t logit = Uniform(rng, 0, 999) == 0 ? Uniform(rng, -300, 1500)
                                                    : Uniform(rng, -2048, -600);
    k[i] = SigmoidRef(logit);
  }
  ExpectRows<C>(k, RandomWh<C>(rng), "sigmoid codes");
}

}  // namespace
}  // namespace fxserve::kernels::detect_test
