/* A row-by-row JPEG reader on the libjpeg API (libjpeg-turbo), for Swift.
 *
 * libjpeg reports errors by calling error_exit, which must not return; Swift cannot use
 * setjmp/longjmp, so each call below sets a jump point, and an error (or any warning: truncated
 * or corrupt data) comes back as a status code with libjpeg's message. Decoding settings are
 * Pillow's and TurboJPEG's defaults: accurate integer DCT, smooth (fancy) chroma upsampling,
 * output RGB. */
#ifndef CAMSCRIPT_JPEGSCAN_H
#define CAMSCRIPT_JPEGSCAN_H

#include <stddef.h>

/* Status codes of the calls below. */
enum {
    JPEGSCAN_OK = 0,
    /* libjpeg refused the data or the call (see jpegscan_message). */
    JPEGSCAN_ERROR = 1,
    /* libjpeg warned (truncated or corrupt data); decoding stopped at the warning. */
    JPEGSCAN_WARNING = 2,
    /* The image is CMYK or YCCK, which is not decoded. */
    JPEGSCAN_CMYK = 3,
    /* Out of memory for the decoder itself. */
    JPEGSCAN_NOMEM = 4
};

/* One decoder; not shared between threads. */
typedef struct jpegscan_decoder jpegscan_decoder;

/* A new decoder, or NULL when out of memory. */
jpegscan_decoder *jpegscan_create(void);

/* Frees the decoder (any state). NULL is allowed. */
void jpegscan_destroy(jpegscan_decoder *decoder);

/* The message of the last failed call (empty if none). Valid until the next call. */
const char *jpegscan_message(const jpegscan_decoder *decoder);

/* Reads the header of `size` bytes at `data` (which must stay alive until the decoder is
 * destroyed); gives the image size. */
int jpegscan_read_header(jpegscan_decoder *decoder, const unsigned char *data, unsigned long size,
                         int *width, int *height);

/* Sets the DCT scaling for the decode (1/`denominator` of each side, `denominator` being 1, 2,
 * 4 or 8: libjpeg's scaled IDCT, which changes the pixels against a full decode) and gives the
 * size the image will then have. Call after jpegscan_read_header, before jpegscan_start. */
int jpegscan_scaled_size(jpegscan_decoder *decoder, int denominator, int *width, int *height);

/* Sets `*multiple` to whether the image has several scans (progressive): decompression then
 * entropy-decodes the whole file when it starts. Call after jpegscan_read_header. */
int jpegscan_has_multiple_scans(jpegscan_decoder *decoder, int *multiple);

/* Starts decompression and, when `*column_count` is less than the width, limits the output
 * to columns `*first_column ..< *first_column + *column_count`; libjpeg widens the band to
 * whole iMCUs and writes the band it will output back into both. */
int jpegscan_start(jpegscan_decoder *decoder, int *first_column, int *column_count);

/* Decodes up to `max_rows` next rows into `buffer` (`row_stride` bytes apart, 3 bytes per
 * column of the band); `*rows_read` is how many were written. */
int jpegscan_read_rows(jpegscan_decoder *decoder, unsigned char *buffer, size_t row_stride,
                       int max_rows, int *rows_read);

/* Passes over the next `count` rows without producing them: libjpeg-turbo still decodes
 * their entropy-coded data (so corrupt data is still reported) but skips the IDCT, upsampling
 * and colour conversion, and the rows after them are the same as in a full decode.
 * `count` must leave at least one row to read (skipping to the end would also skip the check
 * of the data up to the end of the image). `*rows_skipped` is how many were skipped. */
int jpegscan_skip_rows(jpegscan_decoder *decoder, int count, int *rows_skipped);

/* Reads to the end of the image (checking the rest of the data) after all rows were read. */
int jpegscan_finish(jpegscan_decoder *decoder);

#endif
