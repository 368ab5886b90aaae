/* Decodes a PNG to 8-bit RGB exactly as Pillow's Image.open(f).convert("RGB") does.
 *
 * libpng's low-level API reports errors with longjmp, which Swift cannot catch; these
 * functions set the jump point in C and return a status and libpng's message instead. */
#ifndef CAMSCRIPT_PNGREAD_H
#define CAMSCRIPT_PNGREAD_H

#include <stddef.h>
#include <stdint.h>

typedef struct camscript_png camscript_png;

/* Reads the header of `size` bytes at `data` (which must stay valid until camscript_png_free);
 * returns a decoder with `width` and `height` set, or NULL with `message` filled. */
camscript_png *camscript_png_begin(const uint8_t *data, size_t size, uint32_t *width, uint32_t *height,
                                   char *message, size_t message_size);

/* Decodes every pixel into `rgb` (width * height * 3 bytes); returns 1, or 0 with `message`
 * filled (truncated or corrupt data). */
int camscript_png_finish(camscript_png *png, uint8_t *rgb, char *message, size_t message_size);

/* Frees the decoder (NULL is allowed). */
void camscript_png_free(camscript_png *png);

#endif
