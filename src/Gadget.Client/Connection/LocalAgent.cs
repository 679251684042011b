using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Gadget.Connection;

/// <summary>
/// The agent on this host. Uses the running one when there is one; otherwise, for root, starts a
/// private agent. The private agent serves this process's later commands too, until it has been
/// idle for <see cref="PrivateAgentIdle"/>, and dies with this process, however it ends: starting
/// one (a NativeAOT process, its first container scan) costs each command more than most snapshots
/// take, and a loaded snapshot is kept only by an agent that stays.
/// </summary>
public static partial class LocalAgent
{
    public const string DefaultSocketPath = "/run/gadget/gadget.sock";
    public const string SocketVariable = "GADGET_AGENT_SOCKET";
    public const string AgentPathVariable = "GADGET_AGENT_PATH";

    /// <summary>Seconds a private agent waits for the next command; 0 stops it after each one.</summary>
    public const string PrivateAgentIdleVariable = "GADGET_PRIVATE_AGENT_IDLE";

    private static readonly TimeSpan DefaultPrivateAgentIdle = TimeSpan.FromMinutes(5);

    private static readonly SemaphoreSlim PrivateAgentGate = new(1, 1);
    private static PrivateAgent? _privateAgent;

    static LocalAgent()
    {
        // The agent ends with this process by itself (--parent-pid, within a quarter second); told
        // at exit, it ends at once. One handler for the process: agents come and go.
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Volatile.Read(ref _privateAgent)?.Signal();
    }

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
            return new LocalAgentLease(AgentConnection.ForUnixSocket(shared), privateAgent: null, socketPath: shared);
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

        return await LeasePrivateAgentAsync(status, token).ConfigureAwait(false);
    }

    /// <summary>
    /// How long a private agent waits for the next command after the last one ended:
    /// $GADGET_PRIVATE_AGENT_IDLE seconds, or five minutes.
    /// </summary>
    public static TimeSpan PrivateAgentIdle =>
        double.TryParse(Environment.GetEnvironmentVariable(PrivateAgentIdleVariable), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double seconds)
            && seconds >= 0 && seconds <= TimeSpan.FromDays(1).TotalSeconds
            ? TimeSpan.FromSeconds(seconds)
            : DefaultPrivateAgentIdle;

    /// <summary>Stops this process's private agent now, if one runs (Remove-Module does).</summary>
    public static void StopPrivateAgent()
    {
        PrivateAgentGate.Wait();
        try
        {
            _privateAgent?.StopNow();
            _privateAgent = null;
        }
        finally
        {
            PrivateAgentGate.Release();
        }
    }

    private static async Task<LocalAgentLease> LeasePrivateAgentAsync(Action<string>? status, CancellationToken token)
    {
        await PrivateAgentGate.WaitAsync(token).ConfigureAwait(false);
        try
        {
            string agentPath = AgentPath;
            if (_privateAgent is { } running)
            {
                // One started from another executable ($GADGET_AGENT_PATH changed) is not the one asked for.
                if (running.AgentPath == agentPath && running.TryLease())
                {
                    return new LocalAgentLease(AgentConnection.ForUnixSocket(running.SocketPath), running, running.SocketPath);
                }

                // Commands still using it finish with it; it stops after the last.
                running.Retire();
                _privateAgent = null;
            }

            PrivateAgent started = await StartPrivateAgentAsync(agentPath, status, token).ConfigureAwait(false);
            _ = started.TryLease();
            _privateAgent = started;
            return new LocalAgentLease(AgentConnection.ForUnixSocket(started.SocketPath), started, started.SocketPath);
        }
        finally
        {
            PrivateAgentGate.Release();
        }
    }

    private static async Task<PrivateAgent> StartPrivateAgentAsync(string agentPath, Action<string>? status, CancellationToken token)
    {
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

        return new PrivateAgent(process, agentPath, socketPath);
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
        Signal(process);
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

    /// <summary>Asks an agent to stop (SIGTERM), without waiting.</summary>
    internal static void Signal(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                _ = kill(process.Id, SIGTERM);
            }
        }
        catch (InvalidOperationException)
        {
            // Disposed, or never started: nothing to signal.
        }
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

/// <summary>
/// A private agent and the commands using it: when the last one ends, it waits for the next one
/// for <see cref="LocalAgent.PrivateAgentIdle"/>, then stops.
/// </summary>
internal sealed class PrivateAgent : IDisposable
{
    private readonly Process _process;
    private readonly object _gate = new();
    private int _leases;
    private bool _stopping;
    private bool _retired;
    private Timer? _idle;

    public PrivateAgent(Process process, string agentPath, string socketPath)
    {
        _process = process;
        AgentPath = agentPath;
        SocketPath = socketPath;
    }

    /// <summary>Asks the agent to stop without waiting (this process is exiting).</summary>
    public void Signal() => LocalAgent.Signal(_process);

    public string AgentPath { get; }

    public string SocketPath { get; }

    public int ProcessId => _process.Id;

    /// <summary>One more command uses the agent; false when it has exited or is stopping.</summary>
    public bool TryLease()
    {
        lock (_gate)
        {
            if (_stopping || _retired || _process.HasExited)
            {
                return false;
            }

            _leases++;
            _idle?.Dispose();
            _idle = null;
            return true;
        }
    }

    /// <summary>A command is done with the agent: the last one starts the idle wait (or, with none configured, stops it).</summary>
    public void Release()
    {
        TimeSpan idle = LocalAgent.PrivateAgentIdle;
        lock (_gate)
        {
            if (--_leases > 0 || _stopping)
            {
                return;
            }

            if (idle > TimeSpan.Zero && !_retired)
            {
                _idle = new Timer(_ => Stop(evenIfUsed: false), null, idle, Timeout.InfiniteTimeSpan);
                return;
            }
        }

        Stop(evenIfUsed: false);
    }

    /// <summary>No new command takes the agent; it stops when the last one using it ends.</summary>
    public void Retire()
    {
        lock (_gate)
        {
            _retired = true;
        }

        Stop(evenIfUsed: false);
    }

    /// <summary>Stops the agent whatever uses it.</summary>
    public void StopNow() => Stop(evenIfUsed: true);

    /// <summary>Stops the agent (<see cref="StopNow"/>).</summary>
    public void Dispose() => StopNow();

    /// <summary>Stops the agent once, unless a command uses it and <paramref name="evenIfUsed"/> is false.</summary>
    private void Stop(bool evenIfUsed)
    {
        lock (_gate)
        {
            if (_stopping || (_leases > 0 && !evenIfUsed))
            {
                return;
            }

            _stopping = true;
            _idle?.Dispose();
            _idle = null;
        }

        LocalAgent.Stop(_process);
        _process.Dispose();
    }
}

/// <summary>A connection to the local agent: the shared one, or this process's private agent.</summary>
public sealed class LocalAgentLease : IDisposable
{
    private readonly PrivateAgent? _private;
    private bool _disposed;

    internal LocalAgentLease(AgentConnection connection, PrivateAgent? privateAgent, string socketPath)
    {
        Connection = connection;
        _private = privateAgent;
        SocketPath = socketPath;
    }

    public AgentConnection Connection { get; }

    public string SocketPath { get; }

    /// <summary>True when the agent is this process's private one (started by a command of it).</summary>
    public bool IsPrivate => _private is not null;

    /// <summary>The private agent's process id, or null for the shared agent.</summary>
    public int? PrivateAgentProcessId => _private?.ProcessId;

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Connection.Dispose();
        _private?.Release();
    }
}
