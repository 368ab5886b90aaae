#include <cblas.h>
#include <lapacke.h>
/// The name of the kernel family OpenBLAS chose for this CPU (e.g. "SkylakeX", "Prescott").
char *openblas_get_corename(void);
