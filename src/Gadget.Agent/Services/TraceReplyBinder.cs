using Gadget.Protocol.V1;
using Grpc.Core;

namespace Gadget.Agent.Services;

/// <summary>
/// Binds the generated service definition, with one change: the Trace method's replies are
/// written by <see cref="TraceReplyWriter"/> instead of the generated marshaller.
/// </summary>
internal sealed class TraceReplyBinder(ServiceBinderBase inner) : ServiceBinderBase
{
    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler)
        => inner.AddMethod(method, handler);

    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler)
        => inner.AddMethod(method, handler);

    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler)
        => inner.AddMethod(method, handler);

    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler)
    {
        if (TraceReplyWriter.Marshaller is Marshaller<TResponse> replies)
        {
            method = new Method<TRequest, TResponse>(method.Type, method.ServiceName, method.Name, method.RequestMarshaller, replies);
        }

        inner.AddMethod(method, handler);
    }
}
