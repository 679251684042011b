using Gadget.Agent;
using Gadget.Agent.Gadgets;
using Gadget.Protocol.V1;
using Gadget.Tracing;
using Grpc.Core;
using Xunit;

namespace Gadget.Tests.Kernel;

/// <summary>The real agent process, reached by the real client over a unix socket.</summary>
[Collection(KernelTests.Name)]
public sealed class AgentServiceTests
{
    private static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(10);

    [KernelFact]
    public async Task GetInfoDescribesTheAgent()
    {
        using AgentProcess agent = await AgentProcess.StartAsync("--node", "test-node");
        using var timeout = new CancellationTokenSource(AnswerTimeout);

        AgentInfo info = await agent.Connection.GetInfoAsync(timeout.Token);

        Assert.Equal(AgentOptions.Version, info.Version);
        Assert.Matches(@"^\d+\.\d+\.\d+", info.Version);
        Assert.Equal(2u, info.ProtocolVersion);
        Assert.Equal("test-node", info.Node);
        Assert.Equal(File.ReadAllText("/proc/sys/kernel/osrelease").Trim(), info.Kernel);
        GadgetDescriptor exec = Assert.Single(info.Gadgets, g => g.Name == "exec");
        Assert.False(string.IsNullOrWhiteSpace(exec.Description));
        Assert.Contains(ExecGadget.IncludeFailedParameter, exec.Parameters.Keys);
    }

    [KernelFact]
    public async Task TraceDeliversARealExecEvent()
    {
        using AgentProcess agent = await AgentProcess.StartAsync();
        // A copy of /bin/true under a fresh name: the comm filter then selects only our processes.
        string directory = Directory.CreateTempSubdirectory("gadget-test-").FullName;
        string name = $"gt{Guid.NewGuid():N}"[..15];
        string executable = Path.Combine(directory, name);
        File.Copy("/bin/true", executable);
        File.SetUnixFileMode(executable, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        string marker = HostProcess.NewMarker();
        var options = new TraceOptions { Gadget = "exec", Comm = name, MaxEvents = 1 };
        using var timeout = new CancellationTokenSource(AnswerTimeout);
        var started = new HashSet<int>();

        try
        {
            using var session = TraceSession.Start(agent.Connection, options, "test-node", timeout.Token);
            ExecEvent? exec = null;
            // The trace attaches asynchronously: exec until the agent reports one of ours.
            while (exec is null && !timeout.IsCancellationRequested)
            {
                started.Add(HostProcess.Run(executable, marker));
                if (session.TryTake(out object? item, TimeSpan.FromMilliseconds(200), timeout.Token))
                {
                    exec = item switch
                    {
                        ExecEvent e => e,
                        GadgetException error => throw error,
                        _ => null, // periodic counters
                    };
                }
            }

            Assert.NotNull(exec);
            Assert.Contains(exec.Pid, started);
            Assert.Equal(Environment.ProcessId, exec.Ppid);
            Assert.Equal(name, exec.Comm);
            Assert.Equal(executable, exec.ExePath);
            Assert.Equal([executable, marker], exec.Args);
            Assert.Equal(Errno.None, exec.Error);
            Assert.Equal(0u, exec.Uid);
            Assert.Equal("test-node", exec.Node);
            Assert.InRange(exec.Timestamp, DateTime.Now - AnswerTimeout, DateTime.Now);

            // MaxEvents = 1: no second event, and the trace ends with final counters that account for the one.
            TraceStatistics? statistics = null;
            while (statistics is not { Final: true })
            {
                Assert.True(session.TryTake(out object? item, AnswerTimeout, timeout.Token), "The trace did not end after MaxEvents.");
                statistics = Assert.IsType<TraceStatistics>(item);
            }

            Assert.Equal(1ul, statistics.Delivered);
            Assert.Equal(0ul, statistics.Lost);
            Assert.False(session.TryTake(out _, TimeSpan.FromSeconds(1), timeout.Token));
            Assert.True(session.IsCompleted);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [KernelFact]
    public async Task UnknownGadgetIsRefusedByName()
    {
        using AgentProcess agent = await AgentProcess.StartAsync();

        GadgetException error = FirstError(agent, new TraceOptions { Gadget = "no-such-gadget" });

        Assert.Equal(GadgetErrorId.UnknownGadget, error.ErrorId);
        Assert.Equal(GadgetErrorKind.NotFound, error.Kind);
        Assert.Contains("no-such-gadget", error.Message, StringComparison.Ordinal);
        Assert.Contains("exec", error.Message, StringComparison.Ordinal); // names what there is
    }

    [KernelFact]
    public async Task UnknownGadgetParameterIsRefusedByName()
    {
        using AgentProcess agent = await AgentProcess.StartAsync();
        var options = new TraceOptions { Gadget = "exec" };
        options.Parameters["include-faild"] = "true";

        GadgetException error = FirstError(agent, options);

        Assert.Equal(GadgetParameters.InvalidParameterId, error.ErrorId);
        Assert.Equal(GadgetErrorKind.InvalidArgument, error.Kind);
        Assert.Contains("include-faild", error.Message, StringComparison.Ordinal);
        Assert.Contains(ExecGadget.IncludeFailedParameter, error.Message, StringComparison.Ordinal);
    }

    [KernelFact]
    public async Task AClientOfTheOldProtocolIsRefusedNamingBothVersions()
    {
        using AgentProcess agent = await AgentProcess.StartAsync("--node", "test-node");
        using var timeout = new CancellationTokenSource(AnswerTimeout);

        // A version 1 client sends no protocol version and expects per-gadget events.
        using var call = agent.Connection.Client.Trace(new TraceRequest { Gadget = "exec" }, cancellationToken: timeout.Token);
        RpcException refused = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(timeout.Token));
        GadgetException error = Gadget.Connection.RpcErrors.ToGadgetException(refused, "test-node");

        Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
        Assert.Equal(GadgetErrorId.ProtocolMismatch, error.ErrorId);
        Assert.Equal(GadgetErrorKind.NotSupported, error.Kind);
        Assert.Contains("agent on test-node speaks Gadget protocol 2", error.Message, StringComparison.Ordinal);
        Assert.Contains("this client speaks protocol 1", error.Message, StringComparison.Ordinal);
    }

    [KernelFact]
    public async Task StopsCleanlyOnSigterm()
    {
        using AgentProcess agent = await AgentProcess.StartAsync();
        // Root only: the agent restricts the socket as soon as it has started.
        Assert.True(
            Eventually.True(() => File.GetUnixFileMode(agent.SocketPath) == (UnixFileMode.UserRead | UnixFileMode.UserWrite), TimeSpan.FromSeconds(5)),
            $"The socket's mode is {File.GetUnixFileMode(agent.SocketPath)}, not owner-only.");

        Assert.Equal(0, agent.Stop());
        Assert.False(File.Exists(agent.SocketPath), "The agent left its socket behind.");
    }

    /// <summary>Starts a trace that the agent must refuse, and returns the refusal.</summary>
    private static GadgetException FirstError(AgentProcess agent, TraceOptions options)
    {
        using var timeout = new CancellationTokenSource(AnswerTimeout);
        using var session = TraceSession.Start(agent.Connection, options, "test-node", timeout.Token);
        Assert.True(session.TryTake(out object? item, AnswerTimeout, timeout.Token), $"The agent did not answer within {AnswerTimeout.TotalSeconds} s.");
        GadgetException error = Assert.IsType<GadgetException>(item);
        Assert.False(session.TryTake(out _, TimeSpan.FromSeconds(1), timeout.Token), "The trace went on after its error.");
        Assert.True(session.IsCompleted);
        return error;
    }
}
