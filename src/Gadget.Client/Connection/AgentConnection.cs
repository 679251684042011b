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
    private readonly GrpcChannel _channel;

    private AgentConnection(GrpcChannel channel, string target)
    {
        _channel = channel;
        Target = target;
        Invoker = channel.CreateCallInvoker();
        Client = new GadgetAgent.GadgetAgentClient(Invoker);
    }

    /// <summary>Where this connection goes (a socket path, a pod name), for messages.</summary>
    public string Target { get; }

    internal GadgetAgent.GadgetAgentClient Client { get; }

    /// <summary>For calls made with a method of the client's own (the Trace stream's decoder).</summary>
    internal CallInvoker Invoker { get; }

    /// <summary>A connection over a unix socket (the local agent).</summary>
    public static AgentConnection ForUnixSocket(string socketPath)
        => ForStream(socketPath, async token =>
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), token).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
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
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = (_, token) => connect(token),
            EnableMultipleHttp2Connections = false,
        };
        var channel = GrpcChannel.ForAddress("http://gadget-agent", new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            MaxReceiveMessageSize = null,
        });
        return new AgentConnection(channel, target);
    }

    public async Task<AgentInfo> GetInfoAsync(CancellationToken token)
    {
        try
        {
            return await Client.GetInfoAsync(new GetInfoRequest(), cancellationToken: token).ConfigureAwait(false);
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
            ListContainersReply reply = await Client.ListContainersAsync(request, cancellationToken: token).ConfigureAwait(false);
            return [.. reply.Containers.Select(info => new GadgetContainer(info, node))];
        }
        catch (RpcException exception)
        {
            throw RpcErrors.ToGadgetException(exception, Target);
        }
    }

    public void Dispose() => _channel.Dispose();
}
