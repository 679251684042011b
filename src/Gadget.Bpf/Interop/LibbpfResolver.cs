using System.Reflection;
using System.Runtime.InteropServices;

namespace Gadget.Bpf;

/// <summary>
/// Finds libbpf: GADGET_LIBBPF_PATH when set, then libbpf.so.1, then libbpf.so. A missing library
/// becomes one clear error that names the Debian package instead of a bare DllNotFoundException.
/// </summary>
internal static class LibbpfResolver
{
    internal const string OverrideVariable = "GADGET_LIBBPF_PATH";
    private static int _registered;

    internal static void EnsureRegistered()
    {
        if (Interlocked.Exchange(ref _registered, 1) == 0)
        {
            NativeLibrary.SetDllImportResolver(typeof(LibbpfResolver).Assembly, Resolve);
        }
    }

    private static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (libraryName != Interop.LibbpfName)
        {
            return 0;
        }

        string? overridePath = Environment.GetEnvironmentVariable(OverrideVariable);
        string[] candidates = string.IsNullOrEmpty(overridePath)
            ? [Interop.LibbpfName, "libbpf.so"]
            : [overridePath];
        foreach (string candidate in candidates)
        {
            if (NativeLibrary.TryLoad(candidate, assembly, searchPath, out nint handle))
            {
                return handle;
            }
        }

        throw new BpfException(
            BpfErrorId.LibbpfMissing,
            $"libbpf could not be loaded (tried {string.Join(", ", candidates)}). " +
            "Install it with 'apt-get install libbpf1', or set " + OverrideVariable + " to its path.",
            errno: 0);
    }
}
