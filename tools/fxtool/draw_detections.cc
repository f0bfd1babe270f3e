#include "tools/fxtool/draw_detections.h"

#include <cairo.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace fxserve::fxtool {
namespace {

struct SurfaceDeleter {
  void operator()(cairo_surface_t* s) const { cairo_surface_destroy(s); }
};
struct ContextDeleter {
  void operator()(cairo_t* c) const { cairo_destroy(c); }
};

struct Colour {
  double r, g, b;
};

// Well-separated hues, cycled by class id (so "person" is the same colour
// in every picture).
Colour ClassColour(int class_id) {
  static constexpr Colour kPalette[] = {
      {0.90, 0.10, 0.29}, {0.24, 0.71, 0.29}, {1.00, 0.88, 0.10},
      {0.00, 0.51, 0.78}, {0.96, 0.51, 0.19}, {0.57, 0.12, 0.71},
      {0.27, 0.94, 0.94}, {0.94, 0.20, 0.90}, {0.82, 0.96, 0.24},
      {0.98, 0.75, 0.83}, {0.00, 0.50, 0.50}, {0.67, 0.43, 0.16}};
  constexpr int kCount = sizeof(kPalette) / sizeof(kPalette[0]);
  return kPalette[((class_id % kCount) + kCount) % kCount];
}

// RGB bytes into cairo's native-endian xRGB words.
void CopyPixels(const model::image::RgbImage& image, cairo_surface_t* s) {
  cairo_surface_flush(s);
  unsigned char* data = cairo_image_surface_get_data(s);
  const int stride = cairo_image_surface_get_stride(s);
  for (int y = 0; y < image.height; ++y) {
    auto* row = reinterpret_cast<uint32_t*>(data + y * stride);
    const uint8_t* src =
        &image.pixels[static_cast<size_t>(y) * image.width * 3];
    for (int x = 0; x < image.width; ++x) {
      row[x] = (uint32_t{src[3 * x]} << 16) | (uint32_t{src[3 * x + 1]} << 8) |
               src[3 * x + 2];
    }
  }
  cairo_surface_mark_dirty(s);
}

struct Rect {
  double x, y, w, h;
  bool Overlaps(const Rect& o) const {
    return x < o.x + o.w && o.x < x + w && y < o.y + o.h && o.y < y + h;
  }
};

// Draws the box and its label; the label moves down a line at a time while
// it would cover one already drawn (two classes on the same box).
void DrawOne(cairo_t* cr, const model::centernet::Detection& d, double line,
             double font_size, std::vector<Rect>& labels) {
  const Colour c = ClassColour(d.class_id);
  cairo_set_source_rgb(cr, c.r, c.g, c.b);
  cairo_set_line_width(cr, line);
  cairo_rectangle(cr, d.x1, d.y1, d.x2 - d.x1, d.y2 - d.y1);
  cairo_stroke(cr);

  const std::string label = absl::StrFormat("%s %.2f", d.class_name, d.score);
  cairo_set_font_size(cr, font_size);
  cairo_text_extents_t text;
  cairo_text_extents(cr, label.c_str(), &text);
  const double pad = font_size * 0.2;
  const double box_h = font_size + 2 * pad;
  // Above the box when there is room, else just inside its top edge.
  Rect place{d.x1, d.y1 - box_h >= 0 ? d.y1 - box_h : d.y1,
             text.x_advance + 2 * pad, box_h};
  for (int tries = 0; tries < 8; ++tries) {
    const bool covers =
        std::any_of(labels.begin(), labels.end(),
                    [&](const Rect& other) { return place.Overlaps(other); });
    if (!covers) break;
    place.y += box_h;
  }
  labels.push_back(place);
  const double top = place.y;
  cairo_rectangle(cr, place.x, place.y, place.w, place.h);
  cairo_fill(cr);
  const bool light = 0.299 * c.r + 0.587 * c.g + 0.114 * c.b > 0.55;
  cairo_set_source_rgb(cr, light ? 0 : 1, light ? 0 : 1, light ? 0 : 1);
  cairo_move_to(cr, d.x1 + pad, top + pad + font_size * 0.8);
  cairo_show_text(cr, label.c_str());
}

}  // namespace

absl::Status DrawDetections(
    const model::image::RgbImage& image,
    const std::vector<model::centernet::Detection>& detections,
    const std::string& png_path) {
  std::unique_ptr<cairo_surface_t, SurfaceDeleter> surface(
      cairo_image_surface_create(CAIRO_FORMAT_RGB24, image.width,
                                 image.height));
  if (cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "cannot make a ", image.width, "x", image.height, " picture for ",
        png_path, ": ",
        cairo_status_to_string(cairo_surface_status(surface.get()))));
  }
  CopyPixels(image, surface.get());
  std::unique_ptr<cairo_t, ContextDeleter> cr(cairo_create(surface.get()));
  cairo_select_font_face(cr.get(), "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
                         CAIRO_FONT_WEIGHT_BOLD);
  // Lines and labels scale with the picture: readable on a 4000-px photo,
  // not a blot on a 300-px one.
  const double size = std::max(image.width, image.height);
  const double line = std::max(2.0, size / 300);
  const double font_size = std::max(11.0, size / 45);
  // Best first, so the best label keeps its place; boxes are thin enough
  // that their order does not matter.
  std::vector<Rect> labels;
  for (const model::centernet::Detection& d : detections) {
    DrawOne(cr.get(), d, line, font_size, labels);
  }
  const cairo_status_t status =
      cairo_surface_write_to_png(surface.get(), png_path.c_str());
  if (status != CAIRO_STATUS_SUCCESS) {
    return absl::PermissionDeniedError(absl::StrCat(
        "cannot write ", png_path, ": ", cairo_status_to_string(status)));
  }
  return absl::OkStatus();
}

}  // namespace fxserve::fxtool
