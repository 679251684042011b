using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Gadget.Connection;

/// <summary>
/// The agent on this host. Uses the running one when there is one; otherwise, for root, starts a
/// private agent that lives as long as the command (and dies with this process, however it ends).
/// </summary>
public static partial class LocalAgent
{
    public const string DefaultSocketPath = "/run/gadget/gadget.sock";
    public const string SocketVariable = "GADGET_AGENT_SOCKET";
    public const string AgentPathVariable = "GADGET_AGENT_PATH";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);

    /// <summary>The socket of the shared agent: $GADGET_AGENT_SOCKET or /run/gadget/gadget.sock.</summary>
    public static string SocketPath =>
        Environment.GetEnvironmentVariable(SocketVariable) is { Length: > 0 } path ? path : DefaultSocketPath;

    /// <summary>The agent executable staged beside the client: &lt;module&gt;/agent/gadget-agent.</summary>
    public static string AgentPath =>
        Environment.GetEnvironmentVariable(AgentPathVariable) is { Length: > 0 } path
            ? path
            : Path.Combine(Path.GetDirectoryName(typeof(LocalAgent).Assembly.Location)!, "agent", "gadget-agent");

    /// <summary>Connects to the local agent, starting a private one when none runs.</summary>
    /// <param name="status">Told what is happening during a start (for a progress line).</param>
    /// <param name="token">Cancels the wait for a starting agent.</param>
    public static async Task<LocalAgentLease> ConnectAsync(Action<string>? status, CancellationToken token)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new GadgetException(GadgetErrorId.AgentNotFound, GadgetErrorKind.NotSupported,
                "-Local traces the machine PowerShell runs on, which must be Linux. From Windows or macOS, trace a cluster instead (omit -Local).");
        }

        string shared = SocketPath;
        if (await CanConnectAsync(shared, token).ConfigureAwait(false) is var reach && reach == Reach.Accepting)
        {
            return new LocalAgentLease(AgentConnection.ForUnixSocket(shared), process: null, socketPath: shared);
        }

        if (reach == Reach.Absent && UnusableSocketProblem(shared) is string problem)
        {
            throw new GadgetException(GadgetErrorId.AgentSocketUnusable, GadgetErrorKind.Connection, problem)
            {
                RecommendedAction = $"Start the agent on that socket, or point ${SocketVariable} at a running agent; remove the variable to let -Local start an agent of its own.",
            };
        }

        if (!Environment.IsPrivilegedProcess)
        {
            throw new GadgetException(GadgetErrorId.NotRoot, GadgetErrorKind.PermissionDenied,
                reach == Reach.Denied
                    ? $"The agent at {shared} accepts only root."
                    : $"No agent is running at {shared}, and only root can start one (eBPF needs root).")
            {
                RecommendedAction = "Run PowerShell as root (sudo pwsh), or start the agent as root: sudo gadget-agent",
            };
        }

        return await StartPrivateAgentAsync(status, token).ConfigureAwait(false);
    }

    private static async Task<LocalAgentLease> StartPrivateAgentAsync(Action<string>? status, CancellationToken token)
    {
        string agentPath = AgentPath;
        if (!File.Exists(agentPath))
        {
            throw new GadgetException(GadgetErrorId.AgentNotFound, GadgetErrorKind.NotSupported,
                $"No agent is running at {SocketPath} and the agent executable was not found at {agentPath}.")
            {
                RecommendedAction = $"Rebuild the module (./build.ps1), or set {AgentPathVariable} to the gadget-agent executable.",
            };
        }

        EnsureExecutable(agentPath);
        string socketPath = $"/run/gadget/gadget-{Environment.ProcessId}-{Guid.NewGuid():N}.sock";
        status?.Invoke($"Starting a local agent ({agentPath})");
        var start = new ProcessStartInfo(agentPath)
        {
            // Private to this root process: it may run the caller's own programs (Invoke-GadgetProgram).
            ArgumentList = { "--socket", socketPath, "--parent-pid", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture), "--allow-programs" },
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("Process.Start returned no process.");
        }
        catch (Exception exception) when (exception is System.ComponentModel.Win32Exception or InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            // Not executable, a foreign architecture, a noexec mount: whatever it is, it has a name and a path.
            throw new GadgetException(GadgetErrorId.AgentStartFailed, GadgetErrorKind.Failure,
                $"The local agent {agentPath} could not be started: {exception.Message}", exception)
            {
                RecommendedAction = $"Check that {agentPath} is executable (chmod +x) on a file system mounted without noexec, and built for this machine ({RuntimeInformation.OSArchitecture}); or start an agent yourself and set {SocketVariable}.",
            };
        }

        var errors = new System.Text.StringBuilder();
        process.ErrorDataReceived += (_, line) => { lock (errors) { errors.AppendLine(line.Data); } };
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();

        var deadline = Stopwatch.StartNew();
        try
        {
            while (await CanConnectAsync(socketPath, token).ConfigureAwait(false) != Reach.Accepting)
            {
                if (process.HasExited || deadline.Elapsed > StartTimeout)
                {
                    string output;
                    lock (errors)
                    {
                        output = errors.ToString().Trim();
                    }

                    throw new GadgetException(GadgetErrorId.AgentStartFailed, GadgetErrorKind.Failure,
                        process.HasExited
                            ? $"The local agent exited with code {process.ExitCode} while starting. {output}"
                            : $"The local agent did not start within {StartTimeout.TotalSeconds:0} s. {output}");
                }

                await Task.Delay(20, token).ConfigureAwait(false);
            }
        }
        catch
        {
            Stop(process);
            process.Dispose();
            throw;
        }

        return new LocalAgentLease(AgentConnection.ForUnixSocket(socketPath), process, socketPath);
    }

    /// <summary>
    /// Gives the agent back its execute bits when a package lost them: a .nupkg is a zip, and
    /// Save-PSResource or Install-PSResource writes every file as 0644.
    /// </summary>
    private static void EnsureExecutable(string agentPath)
    {
        const UnixFileMode execute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        try
        {
            UnixFileMode mode = File.GetUnixFileMode(agentPath);
            if ((mode & UnixFileMode.UserExecute) == 0)
            {
                // Execute wherever it can be read: 0644 becomes 0755, as the build staged it.
                UnixFileMode readable = mode & (UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
                File.SetUnixFileMode(agentPath, mode | (execute & (UnixFileMode)((int)readable >> 2)) | UnixFileMode.UserExecute);
            }
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            throw new GadgetException(GadgetErrorId.AgentStartFailed, GadgetErrorKind.Failure,
                $"The local agent {agentPath} is not executable, and making it executable failed: {exception.Message}", exception)
            {
                RecommendedAction = $"Run chmod +x {agentPath} as the file's owner, or reinstall the module where it can be written.",
            };
        }
    }

    internal static void Stop(Process process)
    {
        if (process.HasExited)
        {
            return;
        }

        // SIGTERM lets the agent detach its programs and remove its socket; SIGKILL if it hangs.
        _ = kill(process.Id, SIGTERM);
        if (!process.WaitForExit(TimeSpan.FromSeconds(5)))
        {
            process.Kill();
            process.WaitForExit();
        }
    }

    /// <summary>
    /// Why $GADGET_AGENT_SOCKET names something that is there but is no running agent; null when
    /// the variable is not set or nothing is at its path (no agent runs: start one). The variable
    /// chooses one agent, so a private agent in its place would hide the mistake and trace with
    /// another agent than the one asked for.
    /// </summary>
    private static string? UnusableSocketProblem(string socketPath)
    {
        if (Environment.GetEnvironmentVariable(SocketVariable) is not { Length: > 0 })
        {
            return null;
        }

        if (Directory.Exists(socketPath))
        {
            return $"${SocketVariable} names {socketPath}, which is a directory, not an agent's socket.";
        }

        return File.Exists(socketPath)
            ? $"${SocketVariable} names {socketPath}, where no agent accepts connections: it is a regular file, or the socket of an agent that is gone."
            : null;
    }

    private enum Reach
    {
        Absent,
        Denied,
        Accepting,
    }

    private static async Task<Reach> CanConnectAsync(string socketPath, CancellationToken token)
    {
        if (!File.Exists(socketPath) && !Directory.Exists(Path.GetDirectoryName(socketPath)))
        {
            return Reach.Absent;
        }

        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), token).ConfigureAwait(false);
            return Reach.Accepting;
        }
        catch (SocketException exception) when (exception.SocketErrorCode == SocketError.AccessDenied)
        {
            return Reach.Denied;
        }
        catch (SocketException)
        {
            return Reach.Absent;
        }
    }

    private const int SIGTERM = 15;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);
}

/// <summary>A connection to the local agent, and the private agent to stop afterwards, if one was started.</summary>
public sealed class LocalAgentLease : IDisposable
{
    private readonly Process? _process;

    internal LocalAgentLease(AgentConnection connection, Process? process, string socketPath)
    {
        Connection = connection;
        _process = process;
        SocketPath = socketPath;
    }

    public AgentConnection Connection { get; }

    public string SocketPath { get; }

    /// <summary>True when this lease started the agent and stops it on dispose.</summary>
    public bool StartedAgent => _process is not null;

    public void Dispose()
    {
        Connection.Dispose();
        if (_process is not null)
        {
            LocalAgent.Stop(_process);
            _process.Dispose();
        }
    }
}
