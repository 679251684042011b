using Gadget.Agent.Runtime;
using Gadget.Agent;
using Gadget.Agent.Containers;
using Gadget.Agent.Gadgets;
using Gadget.Agent.Services;
using Gadget.Protocol.V1;
using Gadget.Tracing;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace Gadget.Tests.Services;

/// <summary>
/// Client and agent of different protocol versions refuse each other before anything else happens,
/// with an error that names both versions (the client's half is in TraceReplyDecoderTests).
/// </summary>
public sealed class ProtocolVersionTests
{
    [Fact]
    public void BothSidesSpeakTheSameVersion()
    {
        Assert.Equal(GadgetAgentService.ProtocolVersion, TraceReplyDecoder.ProtocolVersion);
        Assert.Equal(TraceReplyDecoder.ProtocolVersion, new TraceOptions { Gadget = "exec" }.ToRequest().ProtocolVersion);
    }

    [Theory]
    [InlineData(0u, 1u)] // a version 1 client does not send the field at all
    [InlineData(1u, 1u)]
    [InlineData(3u, 3u)]
    public async Task ATraceOfAnotherVersionIsRefusedNamingBothVersions(uint sent, uint named)
    {
        var containers = new ContainerCollection();
        var service = new GadgetAgentService(GadgetCatalog.Default, containers, AgentOptions.Parse(["--node", "node-7"]), new TraceAdmission(1, "node-7"), new SnapshotObjectPool(), null!, NullLogger<GadgetAgentService>.Instance);
        var request = new TraceRequest { Gadget = "exec", ProtocolVersion = sent };

        // The refusal comes first: nothing is loaded, nothing is written to the stream (there is none).
        RpcException exception = await Assert.ThrowsAsync<RpcException>(() => service.Trace(request, null!, null!));

        Assert.Equal(StatusCode.FailedPrecondition, exception.StatusCode);
        Assert.Equal(AgentErrors.ProtocolMismatch, exception.Trailers.GetValue(AgentErrors.ErrorIdTrailer));
        Assert.Contains($"speaks Gadget protocol {GadgetAgentService.ProtocolVersion}", exception.Status.Detail, StringComparison.Ordinal);
        Assert.Contains($"this client speaks protocol {named}", exception.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("node-7", exception.Status.Detail, StringComparison.Ordinal);
    }
}
