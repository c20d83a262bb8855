// Debian's libopenblas-dev installs cblas.h for the selected BLAS; these two OpenBLAS extras let us pin the
// thread count and report which kernel OpenBLAS picked for this CPU.
#include <cblas.h>
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_corename(void);
