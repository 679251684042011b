using Gadget.Agent.Runtime;
using Gadget.Agent;
using Gadget.Agent.Containers;
using Gadget.Agent.Gadgets;
using Gadget.Agent.Services;
using Gadget.Connection;
using Gadget.Protocol.V1;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace Gadget.Tests.Services;

/// <summary>
/// A duration longer than the agent's timer takes, sent by any client (the cmdlets refuse it
/// themselves; a raw gRPC request does not), is refused before anything is loaded or attached.
/// </summary>
public sealed class TraceDurationTests
{
    [Theory]
    [InlineData(GadgetAgentService.MaxDurationMs + 1)]
    [InlineData(ulong.MaxValue)]
    public async Task AnOverLongDurationIsRefusedBeforeTheTraceStarts(ulong durationMs)
    {
        var admission = new TraceAdmission(1, "node-7");
        var service = new GadgetAgentService(GadgetCatalog.Default, new ContainerCollection(), AgentOptions.Parse(["--node", "node-7"]), admission, new SnapshotObjectPool(), null!, NullLogger<GadgetAgentService>.Instance);
        var request = new TraceRequest { Gadget = "exec", ProtocolVersion = GadgetAgentService.ProtocolVersion, DurationMs = durationMs };

        // No stream and no call context: the refusal comes before the trace would touch either.
        RpcException refused = await Assert.ThrowsAsync<RpcException>(() => service.Trace(request, null!, null!));

        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
        Assert.Equal(AgentErrors.InvalidDuration, refused.Trailers.GetValue(AgentErrors.ErrorIdTrailer));
        Assert.Contains($"asked for {durationMs} ms", refused.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("49.7 days", refused.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(0, admission.Running);

        // The client raises it under the agent's id, as an invalid argument.
        GadgetException exception = RpcErrors.ToGadgetException(refused, "/run/gadget/gadget.sock");
        Assert.Equal(AgentErrors.InvalidDuration, exception.ErrorId);
        Assert.Equal(GadgetErrorKind.InvalidArgument, exception.Kind);
    }

    [Fact]
    public void TheLongestDurationTheCmdletsSendIsAccepted()
        => Assert.True((ulong)Gadget.Commands.DurationTransformationAttribute.MaxDuration.TotalMilliseconds <= GadgetAgentService.MaxDurationMs);
}
