import Testing

@testable import MLPack

@Suite("Environment variables")
struct EnvironmentVariablesTests {
    static let home = "/home/alice"

    @Test(
        "Secrets are dropped whatever the allow-list says",
        arguments: [
            "TF_API_KEY", "MY_API_KEY", "HF_TOKEN", "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_REGION",
            "TORCH_AUTH_TOKEN", "OMP_PASSWORD", "MKL_LICENSE_KEY", "JAX_CREDENTIALS", "GITHUB_TOKEN", "GH_TOKEN",
            "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "WANDB_API_KEY", "WANDB_PROJECT", "MLPACK_PASSWORD",
            "NCCL_SESSION_ID", "TF_PRIVATE_THING", "HUGGING_FACE_HUB_TOKEN", "TORCH_PASSWD", "TF_COOKIE",
        ])
    func secretsDropped(name: String) {
        #expect(EnvironmentVariables.filter([name: "x1"], home: Self.home).isEmpty, "\(name) kept")
    }

    @Test(
        "Numerics variables are kept",
        arguments: [
            ("TF_CPP_MIN_LOG_LEVEL", "2"), ("TF_DETERMINISTIC_OPS", "1"), ("CUBLAS_WORKSPACE_CONFIG", ":4096:8"),
            ("PYTHONHASHSEED", "0"), ("CUDA_VISIBLE_DEVICES", "0,1"), ("OMP_NUM_THREADS", "8"), ("MKL_CBWR", "AUTO"),
            ("OPENBLAS_NUM_THREADS", "1"), ("NVIDIA_TF32_OVERRIDE", "0"), ("TORCH_CUDNN_V8_API_ENABLED", "1"),
            ("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True"), ("XLA_FLAGS", "--xla_gpu_deterministic_ops=true"),
            ("JAX_ENABLE_X64", "1"), ("LANG", "C.UTF-8"), ("LC_ALL", "en_US.UTF-8"), ("TZ", "UTC"),
            ("CUDA_VERSION", "13.0.2"), ("NCCL_ALGO", "Ring"), ("KMP_AFFINITY", "granularity=fine"),
        ])
    func numericsKept(name: String, value: String) {
        #expect(EnvironmentVariables.filter([name: value], home: Self.home) == [name: value])
    }

    @Test(
        "Everything not on the allow-list is dropped",
        arguments: [
            "PATH", "HOME", "USER", "LD_LIBRARY_PATH", "PYTHONPATH", "PWD", "SHELL", "HOSTNAME", "SSH_AUTH_SOCK",
            "OMPI_MCA_plm", "CUDAHOSTCXX", "OMP_", "DISPLAY",
        ])
    func othersDropped(name: String) {
        #expect(EnvironmentVariables.filter([name: "1"], home: Self.home).isEmpty, "\(name) kept")
    }

    @Test(
        "Values that are locations or credentials are dropped, even under an allowed name",
        arguments: [
            ("TORCH_HOME", "/data/torch"), ("TORCH_EXTENSIONS_DIR", "build"),
            ("XLA_FLAGS", "--xla_dump_to=/home/alice/dump"),
            ("TF_SERVER", "https://bob:hunter2@example.org/x"), ("TORCH_HUB", "https://tok@github.com/x"),
            ("TF_CONFIG", "/etc/tf.json"), ("JAX_CACHE", "~/jax"), ("TORCH_THING", "hf_abcdefghijklmnop"),
            ("TF_THING", "sk-abcdefghijklmnop"), ("TORCH_BLOB", "aGVsbG8gd29ybGQgdGhpcyBpcyBhIGxvbmcgdG9rZW4x"),
        ])
    func badValues(name: String, value: String) {
        #expect(EnvironmentVariables.filter([name: value], home: Self.home).isEmpty, "\(name)=\(value) kept")
    }

    @Test("A URL without credentials is kept; the home folder comes from HOME when not given")
    func urls() {
        #expect(
            EnvironmentVariables.filter(["TF_SERVER": "grpc://localhost:8470"]) == [
                "TF_SERVER": "grpc://localhost:8470"
            ])
        #expect(EnvironmentVariables.filter(["HOME": "/u/bob", "XLA_FLAGS": "--xla_dump_to=/u/bob/x"]).isEmpty)
    }

    @Test("A whole environment: only the numerics survive")
    func whole() {
        let env = [
            "PATH": "/usr/bin", "HOME": Self.home, "AWS_SECRET_ACCESS_KEY": "abc", "HF_TOKEN": "hf_x",
            "MY_API_KEY": "k",
            "TF_API_KEY": "k", "TF_CPP_MIN_LOG_LEVEL": "3", "OMP_NUM_THREADS": "4", "LANG": "C.UTF-8",
        ]
        #expect(
            EnvironmentVariables.filter(env) == [
                "TF_CPP_MIN_LOG_LEVEL": "3", "OMP_NUM_THREADS": "4", "LANG": "C.UTF-8",
            ])
    }
}
