// The agent and the BPF layer are Linux-only, and so are the tests that exercise them.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
