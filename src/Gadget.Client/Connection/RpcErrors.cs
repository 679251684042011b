using Grpc.Core;

namespace Gadget.Connection;

/// <summary>The one place where gRPC statuses become <see cref="GadgetException"/>s.</summary>
internal static class RpcErrors
{
    /// <summary>The agent's stable error id travels in this trailer (see the agent's AgentErrors).</summary>
    public const string ErrorIdTrailer = "gadget-error-id";

    /// <param name="exception">What gRPC reported.</param>
    /// <param name="target">The agent (a socket path, a pod), for the message.</param>
    /// <param name="streaming">
    /// True when the call had already received a message: a transport failure then means the
    /// agent went away in the middle (it was stopped, it crashed), not that it cannot be reached.
    /// </param>
    public static GadgetException ToGadgetException(RpcException exception, string target, bool streaming = false)
    {
        // A failure of the transport itself (a port-forward refused with 403, say) keeps its own id.
        for (Exception? inner = exception.Status.DebugException; inner is not null; inner = inner.InnerException)
        {
            if (inner is GadgetException transport)
            {
                return transport;
            }
        }

        string? errorId = exception.Trailers.GetValue(ErrorIdTrailer);
        if (errorId is null && streaming && exception.StatusCode is StatusCode.Unavailable or StatusCode.Internal)
        {
            return new GadgetException(GadgetErrorId.AgentStreamBroken, GadgetErrorKind.Connection,
                $"The connection to the agent at {target} broke while it streamed events: {exception.Status.Detail}", exception)
            {
                RecommendedAction = "The agent stopped or crashed. Check that it runs again (a restarted agent serves the next command), then run the trace again.",
            };
        }

        GadgetErrorKind kind = exception.StatusCode switch
        {
            StatusCode.PermissionDenied or StatusCode.Unauthenticated => GadgetErrorKind.PermissionDenied,
            StatusCode.NotFound => GadgetErrorKind.NotFound,
            StatusCode.InvalidArgument or StatusCode.OutOfRange => GadgetErrorKind.InvalidArgument,
            StatusCode.FailedPrecondition or StatusCode.Unimplemented => GadgetErrorKind.NotSupported,
            StatusCode.Unavailable => GadgetErrorKind.Connection,
            StatusCode.ResourceExhausted => GadgetErrorKind.ResourceUnavailable,
            StatusCode.DeadlineExceeded => GadgetErrorKind.Timeout,
            _ => GadgetErrorKind.Failure,
        };

        if (errorId == GadgetErrorId.AgentStopping)
        {
            return new GadgetException(errorId, GadgetErrorKind.Connection,
                $"The agent at {target} is shutting down, and the trace ended with it.", exception)
            {
                RecommendedAction = "Run the trace again once the agent is back (without a running agent, -Local starts one for the command).",
            };
        }

        if (errorId is null && exception.StatusCode == StatusCode.DeadlineExceeded)
        {
            return new GadgetException(GadgetErrorId.AgentUnresponsive, GadgetErrorKind.Timeout,
                $"The agent at {target} did not reply in time: it is hung, overloaded, or not a Gadget agent.", exception)
            {
                RecommendedAction = "Check the agent's process, or restart it.",
            };
        }

        if (errorId is null && exception.StatusCode == StatusCode.Unavailable)
        {
            return new GadgetException(GadgetErrorId.AgentUnreachable, kind,
                $"The agent at {target} cannot be reached: {exception.Status.Detail}", exception);
        }

        if (errorId is null && exception.StatusCode == StatusCode.Internal && exception.Status.DebugException is not null)
        {
            return new GadgetException(GadgetErrorId.AgentStreamBroken, GadgetErrorKind.Connection,
                $"The connection to the agent at {target} broke: {exception.Status.DebugException.Message}", exception);
        }

        return new GadgetException(errorId ?? "AgentError", kind, exception.Status.Detail, exception);
    }
}
