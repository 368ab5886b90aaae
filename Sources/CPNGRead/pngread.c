/* See include/pngread.h. Pillow's rules, per PNG colour type (checked byte for byte by
 * PillowPNGVariantTests against tools/fixtures/gen_png_variants.py):
 *   - alpha channels and tRNS transparency are dropped, never composited;
 *   - 1, 2 and 4-bit grey are scaled to 0-255 (x255, x85, x17); palettes are expanded;
 *   - 16-bit samples keep their high byte, except 16-bit grey without alpha, which Pillow
 *     opens as I;16 and converts to RGB by clipping the value at 255;
 *   - Adam7 interlacing is undone; gamma, chromaticities, sRGB and ICC chunks are ignored. */
#include "pngread.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct camscript_png {
    png_structp read;
    png_infop info;
    const uint8_t *data;
    size_t size;
    size_t position;
    uint32_t width;
    uint32_t height;
    int clip_grey16;
    char message[200];
    png_bytep *rows;
};

static void camscript_png_error(png_structp read, png_const_charp text) {
    camscript_png *png = (camscript_png *)png_get_error_ptr(read);
    strncpy(png->message, text ? text : "libpng error", sizeof png->message - 1);
    png->message[sizeof png->message - 1] = 0;
    png_longjmp(read, 1);
}

/* Warnings (an ancillary chunk with a bad CRC, an unknown chunk) do not stop decoding: Pillow
 * ignores them too. */
static void camscript_png_warning(png_structp read, png_const_charp text) {
    (void)read;
    (void)text;
}

static void camscript_png_read_data(png_structp read, png_bytep out, size_t count) {
    camscript_png *png = (camscript_png *)png_get_io_ptr(read);
    if (count > png->size - png->position) {
        png_error(read, "the file ends before the image data does");
    }
    memcpy(out, png->data + png->position, count);
    png->position += count;
}

static void copy_message(const camscript_png *png, char *message, size_t message_size) {
    if (message && message_size) {
        strncpy(message, png->message[0] ? png->message : "libpng reported an error without a message", message_size - 1);
        message[message_size - 1] = 0;
    }
}

camscript_png *camscript_png_begin(const uint8_t *data, size_t size, uint32_t *width, uint32_t *height,
                                   char *message, size_t message_size) {
    camscript_png *png = calloc(1, sizeof *png);
    if (!png) {
        if (message && message_size) snprintf(message, message_size, "out of memory");
        return NULL;
    }
    png->data = data;
    png->size = size;
    png->read = png_create_read_struct(PNG_LIBPNG_VER_STRING, png, camscript_png_error, camscript_png_warning);
    if (png->read) png->info = png_create_info_struct(png->read);
    if (!png->read || !png->info) {
        strcpy(png->message, "libpng could not start a decoder");
        copy_message(png, message, message_size);
        camscript_png_free(png);
        return NULL;
    }
    if (setjmp(png_jmpbuf(png->read))) {
        copy_message(png, message, message_size);
        camscript_png_free(png);
        return NULL;
    }
    png_set_read_fn(png->read, png, camscript_png_read_data);
    /* No limit of libpng's own on the size: the caller checks width × height first. */
    png_set_user_limits(png->read, 0x7fffffff, 0x7fffffff);
    png_read_info(png->read, png->info);
    png_uint_32 w = 0, h = 0;
    int depth = 0, color = 0;
    png_get_IHDR(png->read, png->info, &w, &h, &depth, &color, NULL, NULL, NULL);
    png->width = w;
    png->height = h;
    *width = w;
    *height = h;
    return png;
}

int camscript_png_finish(camscript_png *png, uint8_t *rgb, char *message, size_t message_size) {
    if (setjmp(png_jmpbuf(png->read))) {
        copy_message(png, message, message_size);
        return 0;
    }
    int depth = png_get_bit_depth(png->read, png->info);
    int color = png_get_color_type(png->read, png->info);
    png->clip_grey16 = color == PNG_COLOR_TYPE_GRAY && depth == 16;
    if (color == PNG_COLOR_TYPE_PALETTE) {
        png_set_palette_to_rgb(png->read);
    }
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) {
        png_set_expand_gray_1_2_4_to_8(png->read);
    }
    if (depth == 16 && !png->clip_grey16) {
        png_set_strip_16(png->read);
    }
    /* palette_to_rgb turns tRNS into an alpha channel; drop it as any other alpha. */
    png_set_strip_alpha(png->read);
    if ((color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) && !png->clip_grey16) {
        png_set_gray_to_rgb(png->read);
    }
    png_set_interlace_handling(png->read);
    png_read_update_info(png->read, png->info);
    size_t row_bytes = png_get_rowbytes(png->read, png->info);
    size_t out_row = (size_t)png->width * 3;
    size_t want = png->clip_grey16 ? (size_t)png->width * 2 : out_row;
    if (row_bytes != want) {
        png_error(png->read, "libpng's transformed rows have an unexpected size");
    }
    png->rows = malloc(sizeof(png_bytep) * png->height);
    if (!png->rows) png_error(png->read, "out of memory");
    /* 16-bit grey rows (2 bytes a pixel) are read into the start of each 3-byte-a-pixel row
     * and widened in place, from the last pixel back. */
    for (uint32_t y = 0; y < png->height; y++) png->rows[y] = rgb + (size_t)y * out_row;
    /* Not png_read_end: what follows the image data (text, a missing IEND) does not change
     * the pixels, and Pillow does not read it either. */
    png_read_image(png->read, png->rows);
    if (png->clip_grey16) {
        for (uint32_t y = 0; y < png->height; y++) {
            uint8_t *row = png->rows[y];
            for (uint32_t x = png->width; x-- > 0;) {
                unsigned v = ((unsigned)row[2 * x] << 8) | row[2 * x + 1];
                uint8_t g = v > 255 ? 255 : (uint8_t)v;
                row[3 * x] = g;
                row[3 * x + 1] = g;
                row[3 * x + 2] = g;
            }
        }
    }
    return 1;
}

void camscript_png_free(camscript_png *png) {
    if (!png) return;
    if (png->read) png_destroy_read_struct(&png->read, png->info ? &png->info : NULL, NULL);
    free(png->rows);
    free(png);
}
