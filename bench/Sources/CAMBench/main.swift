import CAMRuntime
print("CAMBench: BLAS core \(BLAS.coreName), \(BLAS.threadCount) threads")
