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
        if (!string.IsNullOrWhiteSpace(libbpfLog))
        {
            message += Environment.NewLine + "libbpf: " + libbpfLog.Trim();
        }

        return new BpfException(errorId, message, errno);
    }
}
