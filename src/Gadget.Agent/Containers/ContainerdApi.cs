using Gadget.Agent.Containers.Containerd;
using Google.Protobuf;
using Grpc.Core;

namespace Gadget.Agent.Containers;

/// <summary>
/// The few containerd methods the agent calls. containerd's services live in different proto
/// packages, so the methods are declared here by full name rather than generated per package.
/// </summary>
internal static class ContainerdApi
{
    public const string NamespaceHeader = "containerd-namespace";

    public static readonly Method<ListNamespacesRequest, ListNamespacesResponse> ListNamespaces =
        Unary<ListNamespacesRequest, ListNamespacesResponse>("containerd.services.namespaces.v1.Namespaces", "List");

    public static readonly Method<ListContainersRequest, ListContainersResponse> ListContainers =
        Unary<ListContainersRequest, ListContainersResponse>("containerd.services.containers.v1.Containers", "List");

    public static readonly Method<ListTasksRequest, ListTasksResponse> ListTasks =
        Unary<ListTasksRequest, ListTasksResponse>("containerd.services.tasks.v1.Tasks", "List");

    public static readonly Method<SubscribeRequest, Envelope> Subscribe = new(
        MethodType.ServerStreaming, "containerd.services.events.v1.Events", "Subscribe",
        Marshaller<SubscribeRequest>(), Marshaller<Envelope>());

    private static Method<TRequest, TResponse> Unary<TRequest, TResponse>(string service, string name)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new()
        => new(MethodType.Unary, service, name, Marshaller<TRequest>(), Marshaller<TResponse>());

    private static Marshaller<T> Marshaller<T>() where T : class, IMessage<T>, new()
    {
        MessageParser<T> parser = new(() => new T());
        return Marshallers.Create(message => message.ToByteArray(), parser.ParseFrom);
    }

    public static Metadata InNamespace(string ns) => new() { { NamespaceHeader, ns } };
}
