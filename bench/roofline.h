// Measured ceilings of this machine for the generation benchmark: GEMM rate in a dtype (libtorch's
// own matmul, so what the model's linears can reach) and memory bandwidth. Torch-free header.
#pragma once

#include <string>

namespace assay::bench {

// GFLOP/s of an n x n x n matmul in `dtype` ("float32" or "bfloat16"), best of repeated runs
// lasting about `seconds` in all. Throws assay::Error (invalid input) for another dtype.
double measure_gemm_gflops(const std::string& dtype, int n = 2048, double seconds = 1.0);

// GB/s of a large copy (bytes read + bytes written), best of repeated runs over a buffer of `mib`
// MiB each way, lasting about `seconds` in all.
double measure_memory_gbps(int mib = 256, double seconds = 1.0);

}  // namespace assay::bench
