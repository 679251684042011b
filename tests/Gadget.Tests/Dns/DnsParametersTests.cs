using Gadget.Agent.Gadgets;
using Gadget.Agent.Gadgets.Dns;
using Gadget.Protocol.V1;
using Xunit;

namespace Gadget.Tests.Dns;

public sealed class DnsParametersTests
{
    [Theory]
    [InlineData("known.test", "known.test.", true)]
    [InlineData("known.test.", "known.test.", true)]
    [InlineData("KNOWN.test", "known.TEST.", true)]
    [InlineData("*.test", "a.b.test.", true)]
    [InlineData("*.test", "test.", false)]
    [InlineData("k?own.test", "known.test.", true)]
    [InlineData("[jk]nown.test", "known.test.", true)]
    [InlineData("[a-c]nown.test", "known.test.", false)]
    [InlineData("*", ".", true)]
    [InlineData("known", "known.test.", false)]
    [InlineData("*o*o*o*o*o*o*o*o*o*o*x", "oooooooooooooooooooooooooooooooooooooooooooooooooooo.", false)]
    public void NamePatternMatchesLikePowerShellWildcards(string pattern, string name, bool expected)
        => Assert.Equal(expected, new NamePattern(pattern).IsMatch(name));

    [Fact]
    public void PortsDefaultTo53And5353()
        => Assert.Equal([53, 5353], DnsGadget.ParsePorts(new TraceRequest()));

    [Fact]
    public void PortsAreParsed()
        => Assert.Equal([5300, 53], DnsGadget.ParsePorts(Request(DnsGadget.PortsParameter, "5300, 53")));

    [Theory]
    [InlineData("0")]
    [InlineData("65536")]
    [InlineData("dns")]
    [InlineData("1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17")]
    public void PortsBadValuesAreRefused(string ports)
    {
        var exception = Assert.Throws<GadgetRequestException>(() => DnsGadget.ParsePorts(Request(DnsGadget.PortsParameter, ports)));
        Assert.Equal(GadgetParameters.InvalidParameterId, exception.ErrorId);
    }

    [Theory]
    [InlineData("", 0)]
    [InlineData("query", 1)]
    [InlineData("Response", 2)]
    public void QrIsParsed(string value, int expected)
        => Assert.Equal(expected, DnsGadget.ParseQr(Request(DnsGadget.QrParameter, value)));

    [Fact]
    public void QrBadValueIsRefused()
        => Assert.Throws<GadgetRequestException>(() => DnsGadget.ParseQr(Request(DnsGadget.QrParameter, "both")));

    [Fact]
    public void ResponseTimeoutDefaultsToFiveSecondsAndIsParsed()
    {
        Assert.Equal(TimeSpan.FromSeconds(5), DnsGadget.ParseTimeout(new TraceRequest()));
        Assert.Equal(TimeSpan.FromMilliseconds(1500), DnsGadget.ParseTimeout(Request(DnsGadget.ResponseTimeoutParameter, "1500")));
        Assert.Throws<GadgetRequestException>(() => DnsGadget.ParseTimeout(Request(DnsGadget.ResponseTimeoutParameter, "2s")));
    }

    private static TraceRequest Request(string name, string value)
    {
        var request = new TraceRequest { Gadget = "dns" };
        request.Parameters[name] = value;
        return request;
    }
}
