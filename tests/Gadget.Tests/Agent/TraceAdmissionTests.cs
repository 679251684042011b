using Gadget.Agent;
using Gadget.Agent.Services;
using Grpc.Core;
using Xunit;

namespace Gadget.Tests.Agent;

/// <summary>The agent's bound on concurrent traces.</summary>
public sealed class TraceAdmissionTests
{
    [Fact]
    public void OneTracePastTheLimitIsRefusedWithTooManyTraces()
    {
        var admission = new TraceAdmission(2, "node-a");
        using IDisposable first = admission.Admit();
        using IDisposable second = admission.Admit();

        var refused = Assert.Throws<RpcException>(() => admission.Admit());

        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.Equal(TraceAdmission.TooManyTracesId, refused.Trailers.GetValue(AgentErrors.ErrorIdTrailer));
        Assert.Contains("node-a", refused.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("2 traces", refused.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(2, admission.Running);
    }

    [Fact]
    public void AnEndedTraceMakesRoomAndEndsOnce()
    {
        var admission = new TraceAdmission(1, string.Empty);
        IDisposable first = admission.Admit();
        first.Dispose();
        first.Dispose();

        using IDisposable next = admission.Admit();

        Assert.Equal(1, admission.Running);
        Assert.Throws<RpcException>(() => admission.Admit());
    }

    [Fact]
    public void TheDefaultFitsTheDaemonSetAndTheFlagSetsIt()
    {
        Assert.Equal(AgentOptions.DefaultMaxTraces, AgentOptions.Parse(["--socket", "/run/x.sock"]).MaxTraces);
        Assert.Equal(3, AgentOptions.Parse(["--socket", "/run/x.sock", "--max-traces", "3"]).MaxTraces);
        Assert.Throws<ArgumentException>(() => AgentOptions.Parse(["--socket", "/run/x.sock", "--max-traces", "0"]));
    }
}
