[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace Gadget.Bpf;

/// <summary>Stable identifiers of BPF failures; they travel to the user as error ids.</summary>
public static class BpfErrorId
{
    public const string LibbpfMissing = "LibbpfMissing";
    public const string KernelBtfMissing = "KernelBtfMissing";
    public const string PermissionDenied = "BpfPermissionDenied";
    public const string LoadFailed = "BpfLoadFailed";
    public const string AttachFailed = "BpfAttachFailed";
    public const string MapFailed = "BpfMapFailed";
    public const string InvalidObject = "BpfInvalidObject";

    /// <summary>The verifier refused a program (an unknown helper, an unchecked access …); the message quotes its last lines.</summary>
    public const string VerifierRejected = "BpfVerifierRejected";

    /// <summary>A program's hook does not exist on this kernel (kprobes where they are not built in, a missing tracepoint).</summary>
    public const string HookUnsupported = "BpfHookUnsupported";
}

/// <summary>A libbpf or kernel failure with the errno it came from and a message that says what to do.</summary>
public sealed class BpfException : Exception
{
    public BpfException(string errorId, string message, int errno, Exception? inner = null)
        : base(message, inner)
    {
        ErrorId = errorId;
        Errno = errno;
    }

    /// <summary>One of <see cref="BpfErrorId"/>.</summary>
    public string ErrorId { get; }

    /// <summary>The positive errno libbpf or the kernel reported, 0 when none applies.</summary>
    public int Errno { get; }

    internal const int EPERM = 1;
    internal const int ENOENT = 2;
    internal const int EACCES = 13;
    internal const int EINVAL = 22;
    internal const int E2BIG = 7;
    internal const int ENOTSUP = 95;
    internal const int EOPNOTSUPP = 524; // the kernel's ENOTSUPP, which BPF calls return
    internal const int EINTR = 4;

    /// <summary>
    /// Turns a failed libbpf call into an exception whose message names the likely cause.
    /// <paramref name="what"/> says what was being done ("load exec", "attach gadget_exec").
    /// </summary>
    internal static BpfException FromErrno(string errorId, int errno, string what, string? libbpfLog = null)
        => FromErrno(errorId, errno, what, libbpfLog, Environment.IsPrivilegedProcess);

    /// <summary>As above, for a caller that is (or is not) <paramref name="privileged"/>.</summary>
    internal static BpfException FromErrno(string errorId, int errno, string what, string? libbpfLog, bool privileged)
    {
        errno = Math.Abs(errno);
        string cause = errno switch
        {
            EPERM or EACCES when !privileged =>
                "permission denied: loading BPF programs needs root, or the capabilities CAP_BPF, " +
                "CAP_PERFMON and CAP_SYS_ADMIN; run as root (sudo) or grant those capabilities",
            EPERM or EACCES when errorId == BpfErrorId.LoadFailed =>
                "the kernel refused the program (the verifier log below says why)",
            // Root was refused: telling it to run as root would send it in circles.
            EPERM or EACCES =>
                "permission denied although running as root: the process may lack CAP_BPF, CAP_PERFMON or " +
                "CAP_SYS_ADMIN (a restricted container), or kernel lockdown or a security module forbids this hook",
            ENOENT => "not found (a tracepoint, map or kernel type this gadget needs is missing on this kernel)",
            ENOTSUP => "not supported by this kernel",
            EINVAL => "invalid argument (the kernel rejected the program or a map definition)",
            E2BIG => "too large for this kernel",
            _ => $"errno {errno}",
        };
        if (errno is EPERM or EACCES && !privileged)
        {
            errorId = BpfErrorId.PermissionDenied;
        }

        string message = $"Could not {what}: {cause}.";
        if (VerifierLog(libbpfLog) is string verifier)
        {
            if (errorId == BpfErrorId.LoadFailed)
            {
                errorId = BpfErrorId.VerifierRejected;
            }

            message += Environment.NewLine + verifier;
        }
        else if (!string.IsNullOrWhiteSpace(libbpfLog))
        {
            message += Environment.NewLine + "libbpf: " + libbpfLog.Trim();
        }

        return new BpfException(errorId, message, errno);
    }

    /// <summary>Verifier lines quoted at most: its verdict is in the last few.</summary>
    internal const int VerifierLinesQuoted = 12;

    private const string LogBegin = "-- BEGIN PROG LOAD LOG --";
    private const string LogEnd = "-- END PROG LOAD LOG --";

    /// <summary>
    /// The verifier's verdict from libbpf's messages: the program it refused and the last lines of
    /// its log, which say why. Null when the messages hold no verifier log.
    /// </summary>
    internal static string? VerifierLog(string? libbpfLog)
    {
        if (string.IsNullOrEmpty(libbpfLog))
        {
            return null;
        }

        int begin = libbpfLog.LastIndexOf(LogBegin, StringComparison.Ordinal);
        if (begin < 0)
        {
            return null;
        }

        int lineStart = libbpfLog.LastIndexOf('\n', Math.Max(0, begin - 1)) + 1;
        string header = libbpfLog[lineStart..begin].Trim().TrimEnd(':');
        int bodyStart = begin + LogBegin.Length;
        int end = libbpfLog.IndexOf(LogEnd, bodyStart, StringComparison.Ordinal);
        string body = end < 0 ? libbpfLog[bodyStart..] : libbpfLog[bodyStart..end];
        string[] lines = body.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string[] last = lines.Length > VerifierLinesQuoted ? lines[^VerifierLinesQuoted..] : lines;
        string program = header.Length > 0 ? header + ": " : string.Empty;
        return $"{program}the verifier's last {last.Length} of {lines.Length} lines:" + Environment.NewLine + string.Join(Environment.NewLine, last.Select(l => "  " + l));
    }
}
