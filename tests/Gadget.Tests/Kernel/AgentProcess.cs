using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Reflection;
using System.Text;
using Gadget.Connection;

namespace Gadget.Tests.Kernel;

/// <summary>
/// The built agent executable, serving on a private unix socket for one test, the way the
/// cmdlets start a local agent. It also exits when this process does (--parent-pid).
/// </summary>
internal sealed class AgentProcess : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);

    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private AgentProcess(Process process, string socketPath, int port = 0)
    {
        _process = process;
        SocketPath = socketPath;
        Port = port;
        Connection = port == 0
            ? AgentConnection.ForUnixSocket(socketPath)
            : AgentConnection.ForStream($"127.0.0.1:{port}", async token =>
            {
                var tcp = new TcpClient();
                await tcp.ConnectAsync(System.Net.IPAddress.Loopback, port, token);
                return tcp.GetStream();
            });
    }

    public string SocketPath { get; }

    /// <summary>The TCP port on 127.0.0.1 of an agent started with <see cref="StartOnPortAsync"/>, else 0.</summary>
    public int Port { get; }

    /// <summary>The agent's process id.</summary>
    public int Id => _process.Id;

    /// <summary>Kills the agent at once (SIGKILL), as a node that dies would.</summary>
    public void Kill() => _process.Kill();

    public AgentConnection Connection { get; }

    /// <summary>What the agent printed so far, for failure messages.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>$GADGET_AGENT_PATH, or the agent project's build output (recorded in this assembly at build time).</summary>
    public static string ExecutablePath =>
        Environment.GetEnvironmentVariable(LocalAgent.AgentPathVariable) is { Length: > 0 } path
            ? path
            : Path.Combine(
                typeof(AgentProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "GadgetAgentDirectory").Value!,
                "gadget-agent");

    /// <summary>An agent serving only on 127.0.0.1 (as in a pod: --no-socket --listen-port), named <paramref name="node"/>.</summary>
    public static Task<AgentProcess> StartOnPortAsync(string node)
    {
        using var probe = new TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        int port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return StartAsync(port, "--no-socket", "--listen-port", port.ToString(CultureInfo.InvariantCulture), "--node", node);
    }

    public static Task<AgentProcess> StartAsync(params string[] extraArguments) => StartAsync(0, extraArguments);

    /// <summary>
    /// An agent that runs as root with only these capabilities (names as in a pod spec: BPF,
    /// PERFMON …), through setpriv, as a container whose securityContext drops ALL and adds them.
    /// </summary>
    public static Task<AgentProcess> StartWithCapabilitiesAsync(IEnumerable<string> capabilities)
    {
        string set = "-all," + string.Join(',', capabilities.Select(c => "+" + c.ToLowerInvariant()));
        return StartAsync(0, ["setpriv", "--bounding-set", set, "--inh-caps", set, "--ambient-caps", set, "--"], []);
    }

    private static Task<AgentProcess> StartAsync(int port, params string[] extraArguments) => StartAsync(port, [], extraArguments);

    private static async Task<AgentProcess> StartAsync(int port, string[] wrapper, params string[] extraArguments)
    {
        string socketPath = $"/tmp/gadget-test-{Guid.NewGuid():N}.sock";
        var start = new ProcessStartInfo(wrapper.Length > 0 ? wrapper[0] : ExecutablePath)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        string[] arguments = [.. wrapper.Skip(1), .. wrapper.Length > 0 ? [ExecutablePath] : Array.Empty<string>(), "--socket", socketPath, "--parent-pid", Environment.ProcessId.ToString(CultureInfo.InvariantCulture), .. extraArguments];
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var agent = new AgentProcess(Process.Start(start) ?? throw new InvalidOperationException($"Could not start {ExecutablePath}."), socketPath, port);
        agent._process.OutputDataReceived += agent.Collect;
        agent._process.ErrorDataReceived += agent.Collect;
        agent._process.BeginOutputReadLine();
        agent._process.BeginErrorReadLine();

        var clock = Stopwatch.StartNew();
        while (!await agent.AcceptsAsync())
        {
            if (agent._process.HasExited || clock.Elapsed > StartTimeout)
            {
                string why = agent._process.HasExited ? $"exited with code {agent._process.ExitCode}" : $"did not listen within {StartTimeout.TotalSeconds} s";
                agent.Dispose();
                throw new InvalidOperationException($"The agent {why}. Output:{Environment.NewLine}{agent.Output}");
            }

            await Task.Delay(50);
        }

        return agent;
    }

    /// <summary>Stops the agent as the cmdlets do (SIGTERM, then SIGKILL if it hangs) and returns its exit code.</summary>
    public int Stop()
    {
        Connection.Dispose();
        if (!_process.HasExited)
        {
            LocalAgent.Stop(_process);
        }

        return _process.ExitCode;
    }

    public void Dispose()
    {
        Stop();
        _process.Dispose();
    }

    private async Task<bool> AcceptsAsync()
    {
        if (Port != 0)
        {
            using var tcp = new TcpClient();
            try
            {
                await tcp.ConnectAsync(System.Net.IPAddress.Loopback, Port);
                return true;
            }
            catch (SocketException)
            {
                return false;
            }
        }

        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(SocketPath));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private void Collect(object sender, DataReceivedEventArgs line)
    {
        lock (_output)
        {
            _output.AppendLine(line.Data);
        }
    }
}
