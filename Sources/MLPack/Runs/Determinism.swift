/// The environment variables `mlpack run --deterministic` sets: the switches the common
/// frameworks read before any user code runs. Seeds and `torch.use_deterministic_algorithms`
/// stay the script's business; these are what a script cannot set for itself in time
/// (Python's hash seed is fixed at interpreter start) or usually forgets.
public enum Determinism {
    public static let variables: [String: String] = [
        // str/bytes hashing, hence set and dict-of-str iteration order.
        "PYTHONHASHSEED": "0",
        // cuBLAS picks reduction orders per stream without a fixed workspace; PyTorch's
        // deterministic mode refuses to run CUDA matmuls without it.
        "CUBLAS_WORKSPACE_CONFIG": ":4096:8",
        // TensorFlow: deterministic kernels, and deterministic cuDNN algorithm choice.
        "TF_DETERMINISTIC_OPS": "1",
        "TF_CUDNN_DETERMINISTIC": "1",
        // TensorFlow's oneDNN CPU kernels reorder floating-point sums ("you may see slightly
        // different numerical results", TensorFlow's own notice says): off.
        "TF_ENABLE_ONEDNN_OPTS": "0",
    ]

    /// What the command gets: `variables`, except that a value the user set already wins
    /// (an explicit `PYTHONHASHSEED=42` is a choice, not an accident). Returns the values the
    /// command sees, to record.
    static func apply(to environment: inout [String: String]) -> [String: String] {
        var set: [String: String] = [:]
        for (name, value) in variables {
            let effective = environment[name] ?? value
            environment[name] = effective
            set[name] = effective
        }
        return set
    }
}
