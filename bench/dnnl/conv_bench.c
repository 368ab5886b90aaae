// Micro-benchmark: oneDNN 2.6 forward-inference convolution (nchw vs format_tag::any, fused
// bias + ReLU (+ sum) post-ops) against OpenBLAS sgemm (im2col GEMM size) on ResNet-50 and
// EfficientNet-Lite0 conv shapes. Build: bash bench/dnnl/run.sh
#include <dnnl.h>
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(x) do { dnnl_status_t s_ = (x); if (s_ != dnnl_success) { fprintf(stderr, "%s: %d\n", #x, s_); exit(1); } } while (0)

static double now_ms(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }

typedef struct { const char *name; int n, ic, oc, h, k, s, p, g; } Shape;

static dnnl_engine_t eng; static dnnl_stream_t strm;

static float *fill(size_t n) { float *p = aligned_alloc(64, ((n * 4 + 63) / 64) * 64); for (size_t i = 0; i < n; i++) p[i] = (float)((i * 2654435761u) % 1000) / 1000.f - 0.5f; return p; }

// Times one conv; blocked: src/dst/weights format any (reorders excluded: done once), else nchw/oihw.
static double bench_dnnl(Shape sh, int blocked, int reps) {
    int oh = (sh.h + 2 * sh.p - sh.k) / sh.s + 1;
    dnnl_dims_t sd = {sh.n, sh.ic, sh.h, sh.h}, dd = {sh.n, sh.oc, oh, oh}, bd = {sh.oc};
    dnnl_memory_desc_t smd, wmd, bmd, dmd;
    dnnl_format_tag_t act = blocked ? dnnl_format_tag_any : dnnl_nchw;
    CHECK(dnnl_memory_desc_init_by_tag(&smd, 4, sd, dnnl_f32, act));
    CHECK(dnnl_memory_desc_init_by_tag(&dmd, 4, dd, dnnl_f32, act));
    CHECK(dnnl_memory_desc_init_by_tag(&bmd, 1, bd, dnnl_f32, dnnl_x));
    if (sh.g > 1) {
        dnnl_dims_t wd = {sh.g, sh.oc / sh.g, sh.ic / sh.g, sh.k, sh.k};
        CHECK(dnnl_memory_desc_init_by_tag(&wmd, 5, wd, dnnl_f32, blocked ? dnnl_format_tag_any : dnnl_goihw));
    } else {
        dnnl_dims_t wd = {sh.oc, sh.ic, sh.k, sh.k};
        CHECK(dnnl_memory_desc_init_by_tag(&wmd, 4, wd, dnnl_f32, blocked ? dnnl_format_tag_any : dnnl_oihw));
    }
    dnnl_dims_t st = {sh.s, sh.s}, pl = {sh.p, sh.p}, pr = {sh.p, sh.p}, dil = {0, 0};
    // pr so that the output matches
    int padr = (oh - 1) * sh.s + sh.k - sh.h - sh.p; pr[0] = pr[1] = padr;
    dnnl_convolution_desc_t cd;
    CHECK(dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &smd, &wmd, &bmd, &dmd, st, dil, pl, pr));
    dnnl_post_ops_t po; CHECK(dnnl_post_ops_create(&po));
    CHECK(dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_relu, 0.f, 0.f));
    dnnl_primitive_attr_t attr; CHECK(dnnl_primitive_attr_create(&attr));
    CHECK(dnnl_primitive_attr_set_post_ops(attr, po));
    dnnl_primitive_desc_t pd; CHECK(dnnl_primitive_desc_create(&pd, &cd, attr, eng, NULL));
    const char *impl; CHECK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl));
    dnnl_primitive_t prim; CHECK(dnnl_primitive_create(&prim, pd));
    const dnnl_memory_desc_t *q[3] = {dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0), dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0)};
    dnnl_memory_t m[4];
    for (int i = 0; i < 3; i++) CHECK(dnnl_memory_create(&m[i], q[i], eng, fill(dnnl_memory_desc_get_size(q[i]) / 4)));
    CHECK(dnnl_memory_create(&m[3], &bmd, eng, fill(sh.oc)));
    const dnnl_memory_desc_t *scratch = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    dnnl_memory_t sm = NULL; if (scratch && dnnl_memory_desc_get_size(scratch)) CHECK(dnnl_memory_create(&sm, scratch, eng, DNNL_MEMORY_ALLOCATE));
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, m[0]}, {DNNL_ARG_WEIGHTS, m[1]}, {DNNL_ARG_DST, m[2]}, {DNNL_ARG_BIAS, m[3]}, {DNNL_ARG_SCRATCHPAD, sm}};
    int na = sm ? 5 : 4;
    CHECK(dnnl_primitive_execute(prim, strm, na, args)); CHECK(dnnl_stream_wait(strm));
    double best = 1e30;
    for (int r = 0; r < reps; r++) { double t = now_ms(); CHECK(dnnl_primitive_execute(prim, strm, na, args)); CHECK(dnnl_stream_wait(strm)); t = now_ms() - t; if (t < best) best = t; }
    double flops = 2.0 * sh.n * sh.oc * oh * oh * (sh.ic / sh.g) * sh.k * sh.k;
    printf("  %-8s %-40s %8.3f ms %7.1f GF/s\n", blocked ? "any" : "nchw", impl, best, flops / best / 1e6);
    return best;
}

static void bench_sgemm(Shape sh, int reps) {
    if (sh.g > 1) return;
    int oh = (sh.h + 2 * sh.p - sh.k) / sh.s + 1;
    int M = sh.oc, N = oh * oh, K = sh.ic * sh.k * sh.k;
    float *a = fill((size_t)M * K), *b = fill((size_t)K * N), *c = fill((size_t)M * N);
    double best = 1e30;
    for (int r = 0; r < reps + 1; r++) { double t = now_ms(); for (int i = 0; i < sh.n; i++) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1, a, K, b, N, 0, c, N); t = now_ms() - t; if (r && t < best) best = t; }
    printf("  %-8s %-40s %8.3f ms %7.1f GF/s\n", "sgemm", "openblas (GEMM only, no im2col)", best, 2.0 * sh.n * M * N * K / best / 1e6);
    free(a); free(b); free(c);
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 10;
    CHECK(dnnl_engine_create(&eng, dnnl_cpu, 0)); CHECK(dnnl_stream_create(&strm, eng, dnnl_stream_default_flags));
    Shape shapes[] = {
        {"r50 conv1 7x7 s2", 1, 3, 64, 224, 7, 2, 3, 1},
        {"r50 l1 conv1 1x1", 1, 64, 64, 56, 1, 1, 0, 1},
        {"r50 l1 conv2 3x3", 1, 64, 64, 56, 3, 1, 1, 1},
        {"r50 l1 conv3 1x1", 1, 64, 256, 56, 1, 1, 0, 1},
        {"r50 l2 conv2 3x3", 1, 128, 128, 28, 3, 1, 1, 1},
        {"r50 l3 conv1 1x1", 1, 1024, 256, 14, 1, 1, 0, 1},
        {"r50 l3 conv2 3x3", 1, 256, 256, 14, 3, 1, 1, 1},
        {"r50 l4 conv2 3x3", 1, 512, 512, 7, 3, 1, 1, 1},
        {"r50 l4 conv3 1x1", 1, 512, 2048, 7, 1, 1, 0, 1},
        {"r50 l3 conv2 3x3 b16", 16, 256, 256, 14, 3, 1, 1, 1},
        {"r50 l1 conv2 3x3 b16", 16, 64, 64, 56, 3, 1, 1, 1},
        {"eff dw 96 3x3 s2", 1, 96, 96, 112, 3, 2, 1, 96},
        {"eff dw 240 5x5", 1, 240, 240, 28, 5, 1, 2, 240},
        {"eff dw 672 5x5", 1, 672, 672, 14, 5, 1, 2, 672},
        {"eff dw 1152 5x5", 1, 1152, 1152, 7, 5, 1, 2, 1152},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        printf("%s (batch %d)\n", shapes[i].name, shapes[i].n);
        bench_dnnl(shapes[i], 0, reps);
        bench_dnnl(shapes[i], 1, reps);
        bench_sgemm(shapes[i], reps);
    }
    return 0;
}
