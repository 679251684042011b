using System.Net.Sockets;
using Gadget.Protocol.V1;
using Grpc.Core;
using Grpc.Net.Client;

namespace Gadget.Connection;

/// <summary>
/// One gRPC channel to one agent. The transport is whatever stream <c>connect</c> opens: a unix
/// socket on this host, a port-forward through the Kubernetes API server for a pod.
/// </summary>
public sealed class AgentConnection : IDisposable
{
    /// <summary>The longest a connection waits for the agent to say anything: a stopped or hung agent ends the command after this.</summary>
    internal static readonly TimeSpan ResponseTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long a quiet connection waits before it pings the agent, well inside <see cref="ResponseTimeout"/>.</summary>
    private static readonly TimeSpan PingAfter = TimeSpan.FromSeconds(3);

    /// <summary>The longest a connect to a local agent's socket waits (a stopped agent's full backlog).</summary>
    internal static readonly TimeSpan UnixConnectTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The outer bound of any connect. A port-forward's own requests to the API server have
    /// deadlines of their own, which must fire first to name the API server, not the agent.
    /// </summary>
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The longest a one-reply call (GetInfo, ListContainers) waits for its reply.</summary>
    internal static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(15);

    /// <summary>
    /// The longest a trace waits for the agent's first message (the schema, sent once its programs
    /// are attached), counted from when the connection is up. An agent that answers pings but hangs
    /// while it starts a trace is caught here, not by <see cref="DeadlineStream"/>.
    /// </summary>
    internal static readonly TimeSpan FirstReplyTimeout = TimeSpan.FromSeconds(10);

    private readonly GrpcChannel _channel;
    private readonly TaskCompletionSource _connected;

    private AgentConnection(GrpcChannel channel, string target, TaskCompletionSource connected)
    {
        _channel = channel;
        _connected = connected;
        Target = target;
        Invoker = channel.CreateCallInvoker();
        Client = new GadgetAgent.GadgetAgentClient(Invoker);
    }

    /// <summary>Where this connection goes (a socket path, a pod name), for messages.</summary>
    public string Target { get; }

    internal GadgetAgent.GadgetAgentClient Client { get; }

    /// <summary>For calls made with a method of the client's own (the Trace stream's decoder).</summary>
    internal CallInvoker Invoker { get; }

    /// <summary>Completes once the transport to the agent is up (its first connect succeeded): reply deadlines count from then.</summary>
    internal Task Connected => _connected.Task;

    /// <summary>A connection over a unix socket (the local agent).</summary>
    public static AgentConnection ForUnixSocket(string socketPath)
        => ForStream(socketPath, async token =>
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(token);
            deadline.CancelAfter(UnixConnectTimeout);
            try
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), deadline.Token).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (OperationCanceledException) when (!token.IsCancellationRequested)
            {
                socket.Dispose();
                throw DeadlineStream.Unresponsive(socketPath, UnixConnectTimeout, "accepted no connection");
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        });

    /// <summary>A connection over any byte stream that <paramref name="connect"/> opens.</summary>
    public static AgentConnection ForStream(string target, Func<CancellationToken, ValueTask<Stream>> connect)
    {
        var connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, token) =>
            {
                Stream stream = await connect(token).ConfigureAwait(false);
                connected.TrySetResult();
                return new DeadlineStream(stream, target, ResponseTimeout);
            },
            ConnectTimeout = ConnectTimeout,
            EnableMultipleHttp2Connections = false,
            // A live agent answers a ping at once, so a quiet connection always has something to
            // read before DeadlineStream's deadline; the ping's own timeout is only a backstop.
            KeepAlivePingDelay = PingAfter,
            KeepAlivePingTimeout = ResponseTimeout * 2,
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
        };
        var channel = GrpcChannel.ForAddress("http://gadget-agent", new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            MaxReceiveMessageSize = null,
        });
        return new AgentConnection(channel, target, connected);
    }

    public async Task<AgentInfo> GetInfoAsync(CancellationToken token)
    {
        try
        {
            return await Client.GetInfoAsync(new GetInfoRequest(), deadline: DateTime.UtcNow + ReplyTimeout, cancellationToken: token).ConfigureAwait(false);
        }
        catch (RpcException exception)
        {
            throw RpcErrors.ToGadgetException(exception, Target);
        }
    }

    /// <summary>The containers the agent knows, optionally only those a selection matches.</summary>
    public async Task<IReadOnlyList<GadgetContainer>> ListContainersAsync(Tracing.ContainerSelection? selection, string node, CancellationToken token)
    {
        try
        {
            var request = new ListContainersRequest { Selector = selection?.ToSelector() };
            ListContainersReply reply = await Client.ListContainersAsync(request, deadline: DateTime.UtcNow + ReplyTimeout, cancellationToken: token).ConfigureAwait(false);
            return [.. reply.Containers.Select(info => new GadgetContainer(info, node))];
        }
        catch (RpcException exception)
        {
            throw RpcErrors.ToGadgetException(exception, Target);
        }
    }

    public void Dispose() => _channel.Dispose();
}
