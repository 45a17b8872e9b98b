public enum MLPackInfo { public static let version = "0.1.0" }
