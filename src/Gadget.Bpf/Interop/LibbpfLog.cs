using System.Runtime.InteropServices;
using System.Text;

namespace Gadget.Bpf;

/// <summary>
/// Collects libbpf's messages (warnings, the verifier log) for the thread that is loading, so an
/// error can quote them. libbpf prints on the calling thread, hence the thread-static buffer.
/// </summary>
/// <remarks>
/// The verifier's last lines say why it refused a program, so a message too long for the first
/// buffer is formatted again whole, and the capture keeps the end of what was printed, not its start.
/// </remarks>
internal static unsafe class LibbpfLog
{
    private const int LIBBPF_WARN = 0;

    /// <summary>What the capture keeps at most: the last this many characters.</summary>
    private const int MaxCapturedChars = 64 * 1024;

    /// <summary>The longest single message formatted whole (a verifier log can run to megabytes).</summary>
    private const int MaxMessageBytes = 4 << 20;

    /// <summary>Bytes of a va_list, copied before the first formatting so the second can start over (va_copy).</summary>
    private static readonly int VaListSize = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 32 : 24;

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
            if (sink is null || level > LIBBPF_WARN + 1)
            {
                return 0;
            }

            const int BufferSize = 2048;
            byte* buffer = stackalloc byte[BufferSize];
            byte* copy = stackalloc byte[32];
            Buffer.MemoryCopy((void*)args, copy, 32, VaListSize);
            int written = Interop.Libc.vsnprintf(buffer, BufferSize, format, args);
            if (written >= BufferSize && written < MaxMessageBytes)
            {
                byte[] whole = new byte[written + 1];
                fixed (byte* wholePtr = whole)
                {
                    int again = Interop.Libc.vsnprintf(wholePtr, (nuint)whole.Length, format, (nint)copy);
                    sink.Append(Marshal.PtrToStringUTF8((nint)wholePtr, Math.Clamp(again, 0, written)));
                }
            }
            else if (written > 0)
            {
                sink.Append(Marshal.PtrToStringUTF8((nint)buffer, Math.Min(written, BufferSize - 1)));
            }

            if (sink.Length > MaxCapturedChars)
            {
                sink.Remove(0, sink.Length - MaxCapturedChars);
            }
        }
        catch
        {
            // A logging callback must never let an exception cross into libbpf.
        }

        return 0;
    }
}
