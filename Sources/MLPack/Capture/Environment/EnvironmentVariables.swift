/// Which environment variables a capture keeps: only those that can change numerical
/// results (seeds, determinism switches, thread counts, math-library modes, device
/// selection, locale), and never one that might hold a secret or a location. The deny
/// rules win over the allow-list, so `TF_API_KEY` is dropped although `TF_*` is allowed:
/// a secret that slipped into a signed pack cannot be taken back.
public enum EnvironmentVariables {
    /// Names kept exactly.
    static let allowedNames: Set<String> = [
        "PYTHONHASHSEED",
        "CUBLAS_WORKSPACE_CONFIG", "CUDA_VISIBLE_DEVICES", "CUDA_LAUNCH_BLOCKING", "CUDA_DEVICE_ORDER",
        "CUDA_VERSION", "CUDA_MODULE_LOADING", "NVIDIA_TF32_OVERRIDE", "NVIDIA_VISIBLE_DEVICES",
        "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES",
        "XLA_FLAGS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "NUMEXPR_MAX_THREADS",
        "GOTO_NUM_THREADS", "BLIS_NUM_THREADS", "RAYON_NUM_THREADS",
        "LANG", "LANGUAGE", "TZ",
        // Not numerics, but it picks the code that draws every figure a run writes.
        "MPLBACKEND",
    ]

    /// Prefixes of allowed names: the families of OpenMP, BLAS, oneDNN, cuBLAS/cuDNN, NCCL,
    /// TensorFlow, PyTorch and JAX settings, and the locale categories.
    static let allowedPrefixes = [
        "OMP_", "KMP_", "GOMP_", "MKL_", "OPENBLAS_", "ONEDNN_", "DNNL_", "CUBLAS_", "CUBLASLT_", "CUDNN_",
        "NCCL_", "TF_", "TORCH_", "PYTORCH_", "JAX_", "XLA_PYTHON_CLIENT_", "LC_",
    ]

    /// A name containing any of these is dropped, whatever the allow-list says.
    static let deniedWords = [
        "TOKEN", "SECRET", "PASSWORD", "PASSWD", "PWD", "PASSPHRASE", "KEY", "CREDENTIAL", "AUTH", "COOKIE",
        "SESSION", "PRIVATE", "SIGNATURE", "CERT", "LICENSE",
    ]

    /// A name starting with any of these is dropped: services whose variables are mostly
    /// credentials or account names.
    static let deniedPrefixes = [
        "AWS_", "HF_", "HUGGING_FACE_", "HUGGINGFACE_", "GITHUB_", "GH_", "GITLAB_", "AZURE_", "GOOGLE_", "GCP_",
        "GCLOUD_", "OPENAI_", "ANTHROPIC_", "WANDB_", "MLFLOW_", "COMET_", "NEPTUNE_", "KAGGLE_", "DATABRICKS_",
        "DOCKER_", "NPM_", "PYPI_", "TWINE_", "SLACK_", "SSH_", "GPG_", "VAULT_",
    ]

    /// Names ending so hold locations (TORCH_HOME, TORCH_EXTENSIONS_DIR), not numerics.
    static let deniedSuffixes = ["_HOME", "_DIR", "_PATH", "_FILE", "_ROOT", "_DEST", "_DBG_DEST", "_URL", "_URI"]

    /// The variables of `env` worth recording: allow-listed names, minus every name or value
    /// the deny rules catch. `home` (default: `env["HOME"]`) is never recorded in a value.
    public static func filter(_ env: [String: String], home: String? = nil) -> [String: String] {
        let home = home ?? env["HOME"]
        return env.filter { name, value in isAllowed(name) && !isDenied(name) && !isDenied(value: value, home: home) }
    }

    static func isAllowed(_ name: String) -> Bool {
        allowedNames.contains(name) || allowedPrefixes.contains { name.hasPrefix($0) && name.count > $0.count }
    }

    static func isDenied(_ name: String) -> Bool {
        let upper = name.uppercased()
        return deniedWords.contains { upper.contains($0) } || deniedPrefixes.contains { upper.hasPrefix($0) }
            || deniedSuffixes.contains { upper.hasSuffix($0) }
    }

    static func isDenied(value: String, home: String?) -> Bool {
        if let home, home.count > 1, value.contains(home) { return true }
        // A location, not a setting; it would also put local paths in the platform record.
        if value.hasPrefix("/") || value.hasPrefix("~") { return true }
        // The checks a recorded command line gets too: a secret under an innocent name.
        return SecretScrubber.hasCredentials(value) || SecretScrubber.looksLikeToken(value)
    }
}
