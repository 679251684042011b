using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using Gadget.Bpf;

namespace Gadget.Agent.Containers;

/// <summary>
/// Runs work inside another process's network namespace: on a thread of its own that joins the
/// namespace with setns (a network namespace belongs to a thread, not to the whole process),
/// returns to the agent's namespace, and ends. What a socket iterator sees is the namespace of the
/// thread that opened it.
/// </summary>
internal static partial class NetworkNamespace
{
    private const int CLONE_NEWNET = 0x40000000;
    private const int EPERM = 1;
    private const int O_RDONLY = 0;
    private const int O_CLOEXEC = 0x80000;

    /// <summary>The agent's own network namespace (its inode).</summary>
    public static ulong Current { get; } = ProcessNamespaces.Inode(Environment.ProcessId, "net");

    /// <summary>
    /// The result of <paramref name="work"/> run in the network namespace of <paramref name="pid"/>,
    /// or false when that namespace cannot be joined any more (the process has exited).
    /// </summary>
    public static bool TryRunIn<T>(int pid, ulong netNs, Func<T> work, out T result)
    {
        if (netNs == Current)
        {
            result = work();
            return true;
        }

        T value = default!;
        bool joined = false;
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(
            () =>
            {
                try
                {
                    joined = RunOnThisThread(pid, work, out value);
                }
                catch (Exception e)
                {
                    failure = ExceptionDispatchInfo.Capture(e);
                }
            },
            maxStackSize: 256 * 1024)
        {
            IsBackground = true,
            Name = "netns",
        };
        thread.Start();
        thread.Join();
        failure?.Throw();
        result = value;
        return joined;
    }

    private static bool RunOnThisThread<T>(int pid, Func<T> work, out T result)
    {
        result = default!;
        int own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (own < 0)
        {
            throw new IOException($"Cannot open this thread's network namespace (errno {Marshal.GetLastPInvokeError()}).");
        }

        try
        {
            int target = open($"/proc/{pid}/ns/net", O_RDONLY | O_CLOEXEC);
            if (target < 0)
            {
                return false;
            }

            try
            {
                if (setns(target, CLONE_NEWNET) != 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    throw errno == EPERM
                        ? new BpfException(
                            BpfErrorId.PermissionDenied,
                            $"The agent may not enter the network namespace of process {pid}: setns needs CAP_SYS_ADMIN, which it does not have. " +
                            "Agents installed by Install-Gadget of this version have it; reinstall, or run the agent as root.",
                            errno)
                        : new IOException($"Cannot join the network namespace of process {pid} (errno {errno}).");
                }
            }
            finally
            {
                _ = close(target);
            }

            try
            {
                result = work();
                return true;
            }
            finally
            {
                // The thread ends right after; going back keeps it from ever running anything else elsewhere.
                setns(own, CLONE_NEWNET);
            }
        }
        finally
        {
            _ = close(own);
        }
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setns(int fd, int type);

    [LibraryImport("libc")]
    private static partial int close(int fd);
}
