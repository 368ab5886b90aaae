/* See include/jpegscan.h. */
#include "jpegscan.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

struct jpegscan_error_manager {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    int warned;
};

struct jpegscan_decoder {
    struct jpeg_decompress_struct info;
    struct jpegscan_error_manager error;
    char message[JMSG_LENGTH_MAX];
    int created;
    int started;
};

/* Keeps libjpeg's message and jumps back to the call that set the jump point. */
static void jpegscan_error_exit(j_common_ptr info) {
    jpegscan_decoder *decoder = (jpegscan_decoder *)info->client_data;
    (*info->err->format_message)(info, decoder->message);
    longjmp(decoder->error.jump, 1);
}

/* Warnings (level < 0) stop decoding, as TurboJPEG's TJFLAG_STOPONWARNING; trace messages are
 * ignored. */
static void jpegscan_emit_message(j_common_ptr info, int level) {
    if (level >= 0) return;
    jpegscan_decoder *decoder = (jpegscan_decoder *)info->client_data;
    (*info->err->format_message)(info, decoder->message);
    decoder->error.warned = 1;
    longjmp(decoder->error.jump, 1);
}

jpegscan_decoder *jpegscan_create(void) {
    jpegscan_decoder *decoder = calloc(1, sizeof(jpegscan_decoder));
    if (decoder == NULL) return NULL;
    decoder->info.err = jpeg_std_error(&decoder->error.base);
    decoder->error.base.error_exit = jpegscan_error_exit;
    decoder->error.base.emit_message = jpegscan_emit_message;
    decoder->info.client_data = decoder;
    if (setjmp(decoder->error.jump)) {
        free(decoder);
        return NULL;
    }
    jpeg_create_decompress(&decoder->info);
    decoder->created = 1;
    return decoder;
}

void jpegscan_destroy(jpegscan_decoder *decoder) {
    if (decoder == NULL) return;
    if (decoder->created) jpeg_destroy_decompress(&decoder->info);
    free(decoder);
}

const char *jpegscan_message(const jpegscan_decoder *decoder) {
    return decoder->message;
}

/* The status after a longjmp: a warning or an error. */
static int jpegscan_failure(jpegscan_decoder *decoder) {
    return decoder->error.warned ? JPEGSCAN_WARNING : JPEGSCAN_ERROR;
}

int jpegscan_read_header(jpegscan_decoder *decoder, const unsigned char *data, unsigned long size,
                         int *width, int *height) {
    decoder->message[0] = 0;
    if (setjmp(decoder->error.jump)) return jpegscan_failure(decoder);
    jpeg_mem_src(&decoder->info, data, size);
    jpeg_read_header(&decoder->info, TRUE);
    if (decoder->info.jpeg_color_space == JCS_CMYK || decoder->info.jpeg_color_space == JCS_YCCK) {
        snprintf(decoder->message, sizeof decoder->message, "CMYK or YCCK colour space");
        return JPEGSCAN_CMYK;
    }
    *width = (int)decoder->info.image_width;
    *height = (int)decoder->info.image_height;
    return JPEGSCAN_OK;
}

int jpegscan_scaled_size(jpegscan_decoder *decoder, int denominator, int *width, int *height) {
    decoder->message[0] = 0;
    if (setjmp(decoder->error.jump)) return jpegscan_failure(decoder);
    decoder->info.scale_num = 1;
    decoder->info.scale_denom = (unsigned int)denominator;
    jpeg_calc_output_dimensions(&decoder->info);
    *width = (int)decoder->info.output_width;
    *height = (int)decoder->info.output_height;
    return JPEGSCAN_OK;
}

int jpegscan_has_multiple_scans(jpegscan_decoder *decoder, int *multiple) {
    decoder->message[0] = 0;
    *multiple = 0;
    if (setjmp(decoder->error.jump)) return jpegscan_failure(decoder);
    *multiple = jpeg_has_multiple_scans(&decoder->info) ? 1 : 0;
    return JPEGSCAN_OK;
}

int jpegscan_start(jpegscan_decoder *decoder, int *first_column, int *column_count) {
    decoder->message[0] = 0;
    if (setjmp(decoder->error.jump)) return jpegscan_failure(decoder);
    decoder->info.out_color_space = JCS_RGB;
    decoder->info.dct_method = JDCT_ISLOW;
    decoder->info.do_fancy_upsampling = TRUE;
    jpeg_start_decompress(&decoder->info);
    decoder->started = 1;
    JDIMENSION x = (JDIMENSION)*first_column, count = (JDIMENSION)*column_count;
    if (count < decoder->info.output_width) {
        jpeg_crop_scanline(&decoder->info, &x, &count);
    } else {
        x = 0;
        count = decoder->info.output_width;
    }
    *first_column = (int)x;
    *column_count = (int)count;
    return JPEGSCAN_OK;
}

int jpegscan_read_rows(jpegscan_decoder *decoder, unsigned char *buffer, size_t row_stride,
                       int max_rows, int *rows_read) {
    decoder->message[0] = 0;
    *rows_read = 0;
    if (setjmp(decoder->error.jump)) return jpegscan_failure(decoder);
    JSAMPROW rows[16];
    int done = 0;
    while (done < max_rows && decoder->info.output_scanline < decoder->info.output_height) {
        int ask = max_rows - done > 16 ? 16 : max_rows - done;
        for (int i = 0; i < ask; i++) rows[i] = buffer + (size_t)(done + i) * row_stride;
        JDIMENSION got = jpeg_read_scanlines(&decoder->info, rows, (JDIMENSION)ask);
        done += (int)got;
        *rows_read = done;
        if (got == 0) break;
    }
    return JPEGSCAN_OK;
}

int jpegscan_skip_rows(jpegscan_decoder *decoder, int count, int *rows_skipped) {
    decoder->message[0] = 0;
    *rows_skipped = 0;
    if (setjmp(decoder->error.jump)) return jpegscan_failure(decoder);
    JDIMENSION left = decoder->info.output_height - decoder->info.output_scanline;
    if (count < 0 || (JDIMENSION)count >= left) {
        snprintf(decoder->message, sizeof decoder->message,
                 "cannot skip %d rows when %u are left (one must be read)", count, (unsigned)left);
        return JPEGSCAN_ERROR;
    }
    *rows_skipped = (int)jpeg_skip_scanlines(&decoder->info, (JDIMENSION)count);
    return JPEGSCAN_OK;
}

int jpegscan_finish(jpegscan_decoder *decoder) {
    decoder->message[0] = 0;
    if (setjmp(decoder->error.jump)) return jpegscan_failure(decoder);
    jpeg_finish_decompress(&decoder->info);
    decoder->started = 0;
    return JPEGSCAN_OK;
}
