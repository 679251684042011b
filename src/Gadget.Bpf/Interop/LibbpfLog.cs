using System.Runtime.InteropServices;
using System.Text;

namespace Gadget.Bpf;

/// <summary>
/// Collects libbpf's messages (warnings, the verifier log) for the thread that is loading, so an
/// error can quote them. libbpf prints on the calling thread, hence the thread-static buffer.
/// </summary>
internal static unsafe class LibbpfLog
{
    private const int LIBBPF_WARN = 0;
    private const int MaxCapturedChars = 8192;

    [ThreadStatic]
    private static StringBuilder? _captured;

    private static int _installed;

    internal static void EnsureInstalled()
    {
        LibbpfResolver.EnsureRegistered();
        if (Interlocked.Exchange(ref _installed, 1) == 0)
        {
            Interop.Libbpf.libbpf_set_print(&Print);
        }
    }

    /// <summary>Starts capturing on this thread; dispose the scope to stop.</summary>
    internal static CaptureScope Capture()
    {
        EnsureInstalled();
        _captured = new StringBuilder();
        return new CaptureScope();
    }

    internal static string Text => _captured?.ToString() ?? string.Empty;

    internal readonly struct CaptureScope : IDisposable
    {
        public void Dispose() => _captured = null;
    }

    [UnmanagedCallersOnly]
    private static int Print(int level, byte* format, nint args)
    {
        try
        {
            StringBuilder? sink = _captured;
            if (sink is null || level > LIBBPF_WARN + 1 || sink.Length >= MaxCapturedChars)
            {
                return 0;
            }

            const int BufferSize = 2048;
            byte* buffer = stackalloc byte[BufferSize];
            int written = Interop.Libc.vsnprintf(buffer, BufferSize, format, args);
            if (written > 0)
            {
                sink.Append(Marshal.PtrToStringUTF8((nint)buffer, Math.Min(written, BufferSize - 1)));
            }
        }
        catch
        {
            // A logging callback must never let an exception cross into libbpf.
        }

        return 0;
    }
}
