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

    private AgentProcess(Process process, string socketPath)
    {
        _process = process;
        SocketPath = socketPath;
        Connection = AgentConnection.ForUnixSocket(socketPath);
    }

    public string SocketPath { get; }

    /// <summary>The agent's process id.</summary>
    public int Id => _process.Id;

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

    public static async Task<AgentProcess> StartAsync(params string[] extraArguments)
    {
        string socketPath = $"/tmp/gadget-test-{Guid.NewGuid():N}.sock";
        var start = new ProcessStartInfo(ExecutablePath)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        string[] arguments = ["--socket", socketPath, "--parent-pid", Environment.ProcessId.ToString(CultureInfo.InvariantCulture), .. extraArguments];
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var agent = new AgentProcess(Process.Start(start) ?? throw new InvalidOperationException($"Could not start {ExecutablePath}."), socketPath);
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
        LocalAgent.Stop(_process);
        return _process.ExitCode;
    }

    public void Dispose()
    {
        Stop();
        _process.Dispose();
    }

    private async Task<bool> AcceptsAsync()
    {
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
