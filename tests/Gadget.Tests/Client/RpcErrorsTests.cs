using Gadget.Connection;
using Grpc.Core;
using Xunit;

namespace Gadget.Tests.Client;

/// <summary>A failed call says what went wrong in terms of the agent: never reached, gone mid-stream, or stopping.</summary>
public sealed class RpcErrorsTests
{
    private const string Target = "/run/gadget/gadget.sock";

    // What Grpc.Net.Client reports when the connection drops: Unavailable, with the I/O failure.
    private static RpcException ConnectionLost()
        => new(new Status(StatusCode.Unavailable, "Error reading next message.", new IOException("The request was aborted.")));

    [Fact]
    public void ATransportFailureBeforeAnyMessageMeansTheAgentCannotBeReached()
    {
        GadgetException exception = RpcErrors.ToGadgetException(ConnectionLost(), Target);

        Assert.Equal(GadgetErrorId.AgentUnreachable, exception.ErrorId);
        Assert.Equal(GadgetErrorKind.Connection, exception.Kind);
        Assert.Contains(Target, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ATransportFailureAfterAMessageMeansTheStreamBroke()
    {
        GadgetException exception = RpcErrors.ToGadgetException(ConnectionLost(), Target, streaming: true);

        Assert.Equal(GadgetErrorId.AgentStreamBroken, exception.ErrorId);
        Assert.Equal(GadgetErrorKind.Connection, exception.Kind);
        Assert.Contains(Target, exception.Message, StringComparison.Ordinal);
        Assert.NotNull(exception.RecommendedAction);
    }

    [Fact]
    public void TheAgentsOwnErrorIdWinsMidStream()
    {
        var failure = new RpcException(new Status(StatusCode.Internal, "ring buffer failed"), new Metadata { { RpcErrors.ErrorIdTrailer, "AgentFailure" } });

        GadgetException exception = RpcErrors.ToGadgetException(failure, Target, streaming: true);

        Assert.Equal("AgentFailure", exception.ErrorId);
        Assert.Equal("ring buffer failed", exception.Message);
    }

    [Fact]
    public void AStoppingAgentIsNamed()
    {
        var stopping = new RpcException(new Status(StatusCode.Unavailable, "node-1: shutting down"), new Metadata { { RpcErrors.ErrorIdTrailer, GadgetErrorId.AgentStopping } });

        GadgetException exception = RpcErrors.ToGadgetException(stopping, Target, streaming: true);

        Assert.Equal(GadgetErrorId.AgentStopping, exception.ErrorId);
        Assert.Equal(GadgetErrorKind.Connection, exception.Kind);
        Assert.Contains(Target, exception.Message, StringComparison.Ordinal);
    }
}
