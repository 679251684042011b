using Gadget.Agent.Gadgets;
using Gadget.Bpf;
using Grpc.Core;

namespace Gadget.Agent.Services;

/// <summary>
/// The one place where agent failures become gRPC statuses. The stable error id travels in the
/// <see cref="ErrorIdTrailer"/> trailer so the client can raise the same id to the user.
/// </summary>
internal static class AgentErrors
{
    public const string ErrorIdTrailer = "gadget-error-id";
    public const string UnknownGadget = "UnknownGadget";
    public const string AgentStopping = "AgentStopping";
    public const string ProtocolMismatch = "ProtocolMismatch";
    public const string InvalidDuration = "InvalidDuration";

    public static RpcException ToRpcException(Exception exception) => exception switch
    {
        BpfException bpf => Create(bpf.ErrorId switch
        {
            BpfErrorId.PermissionDenied => StatusCode.PermissionDenied,
            BpfErrorId.KernelBtfMissing or BpfErrorId.LibbpfMissing or BpfErrorId.HookUnsupported => StatusCode.FailedPrecondition,
            // The program is wrong, not the agent: the verifier's own lines say how.
            BpfErrorId.VerifierRejected => StatusCode.InvalidArgument,
            _ => StatusCode.Internal,
        }, bpf.ErrorId, bpf.Message),
        GadgetRequestException request => Create(
            request.ErrorId == UnknownGadget ? StatusCode.NotFound : StatusCode.InvalidArgument,
            request.ErrorId,
            request.Message),
        Schema.GadgetObjectException invalid => Create(StatusCode.InvalidArgument, "InvalidGadgetObject", invalid.Message),
        RpcException rpc => rpc,
        _ => Create(StatusCode.Internal, "AgentFailure", exception.Message),
    };

    public static RpcException Create(StatusCode code, string errorId, string message)
        => new(new Status(code, message), new Metadata { { ErrorIdTrailer, errorId } });
}
