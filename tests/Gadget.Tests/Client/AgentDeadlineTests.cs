using System.Diagnostics;
using System.Net.Sockets;
using Gadget.Connection;
using Gadget.Tracing;
using Grpc.Core;
using Xunit;

namespace Gadget.Tests.Client;

/// <summary>Every wait on an agent has a deadline: a socket that accepts and never answers ends the call with AgentUnresponsive.</summary>
public sealed class AgentDeadlineTests
{
    /// <summary>The read deadline, and what the test allows on top of it on a busy machine.</summary>
    private static readonly TimeSpan Bound = AgentConnection.ResponseTimeout + TimeSpan.FromSeconds(5);

    [Fact]
    public async Task ASilentSocketEndsGetInfoWithAgentUnresponsive()
    {
        using var silent = SilentSocket.Listen();
        using AgentConnection connection = AgentConnection.ForUnixSocket(silent.Path);
        var clock = Stopwatch.StartNew();

        GadgetException exception = await Assert.ThrowsAsync<GadgetException>(() => connection.GetInfoAsync(CancellationToken.None));

        Assert.Equal(GadgetErrorId.AgentUnresponsive, exception.ErrorId);
        Assert.Equal(GadgetErrorKind.Timeout, exception.Kind);
        Assert.Contains(silent.Path, exception.Message, StringComparison.Ordinal);
        Assert.InRange(clock.Elapsed, AgentConnection.ResponseTimeout - TimeSpan.FromSeconds(1), Bound);
    }

    [Fact]
    public void ASilentSocketEndsATraceWithAgentUnresponsive()
    {
        using var silent = SilentSocket.Listen();
        using AgentConnection connection = AgentConnection.ForUnixSocket(silent.Path);
        var clock = Stopwatch.StartNew();
        using var session = TraceSession.Start(connection, new Gadget.Tracing.TraceOptions { Gadget = "exec", Duration = TimeSpan.FromSeconds(2) }, "node", CancellationToken.None);

        object? item = null;
        while (!session.IsCompleted && clock.Elapsed < Bound + Bound && item is null)
        {
            session.TryTake(out item, TimeSpan.FromMilliseconds(200), CancellationToken.None);
        }

        GadgetException exception = Assert.IsType<GadgetException>(item);
        Assert.Equal(GadgetErrorId.AgentUnresponsive, exception.ErrorId);
        Assert.True(clock.Elapsed < Bound, $"took {clock.Elapsed}");
    }

    [Fact]
    public void AnAgentOverItsTraceLimitIsAResourceError()
    {
        var refused = new RpcException(new Status(StatusCode.ResourceExhausted, "already runs 16 traces"), new Metadata { { RpcErrors.ErrorIdTrailer, GadgetErrorId.TooManyTraces } });

        GadgetException exception = RpcErrors.ToGadgetException(refused, "/run/gadget/gadget.sock");

        Assert.Equal(GadgetErrorId.TooManyTraces, exception.ErrorId);
        Assert.Equal(GadgetErrorKind.ResourceUnavailable, exception.Kind);
    }

    [Fact]
    public void AMissedDeadlineIsAnUnresponsiveAgent()
    {
        GadgetException exception = RpcErrors.ToGadgetException(new RpcException(new Status(StatusCode.DeadlineExceeded, "Deadline Exceeded")), "/run/gadget/gadget.sock");

        Assert.Equal(GadgetErrorId.AgentUnresponsive, exception.ErrorId);
        Assert.Equal(GadgetErrorKind.Timeout, exception.Kind);
    }

    /// <summary>A unix socket that listens and never accepts: connects succeed (the backlog), nothing is ever read or written.</summary>
    private sealed class SilentSocket : IDisposable
    {
        private readonly Socket _socket;

        private SilentSocket(Socket socket, string path)
        {
            _socket = socket;
            Path = path;
        }

        public string Path { get; }

        public static SilentSocket Listen()
        {
            string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"gadget-silent-{Guid.NewGuid():N}.sock");
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            socket.Bind(new UnixDomainSocketEndPoint(path));
            socket.Listen(16);
            return new SilentSocket(socket, path);
        }

        public void Dispose()
        {
            _socket.Dispose();
            File.Delete(Path);
        }
    }
}
