using System.Net;
using Gadget.Agent.Gadgets.Dns;
using Gadget.Protocol.V1;
using Gadget.Tests.Kernel;
using Xunit;

namespace Gadget.Tests.Dns;

/// <summary>The filters the kernel runs: ports, query/response, process name; nothing is left for the agent to drop.</summary>
[Collection(KernelTests.Name)]
public sealed class DnsFilterKernelTests
{
    private static readonly IPAddress Server = IPAddress.Parse("127.0.78.11");
    private const int CustomPort = 5399;

    [KernelFact]
    public void PortQrAndCommAreFilteredInTheKernel()
    {
        System.Diagnostics.Process? standard = null, custom = null;
        try
        {
            standard = Processes.StartDnsmasq([Server], port: 53);
            custom = Processes.StartDnsmasq([Server], port: CustomPort);
            var parameters = new Dictionary<string, string> { [DnsGadget.PortsParameter] = $"{CustomPort}", [DnsGadget.QrParameter] = "response" };
            using DnsCapture capture = DnsCapture.Start(TimeSpan.FromSeconds(5), parameters, new ProcessFilter { Comm = "dnsmasq" });

            Processes.Run("dig", $"@{Server}", "+tries=1", "+timeout=1", "port53.known.test");
            int client = Processes.Run("dig", $"@{Server}", "-p", $"{CustomPort}", "+tries=1", "+timeout=1", "custom.known.test").Pid;
            IReadOnlyList<DnsEvent> events = capture.WaitFor(e => e.Name == "custom.known.test.", TimeSpan.FromSeconds(10), "the custom-port response");
            Thread.Sleep(300);
            events = [.. capture.Events.Where(e => e.Name.EndsWith(".known.test.", StringComparison.Ordinal))];

            // Only dnsmasq's response on the custom port: not port 53, not the query, not dig.
            DnsEvent response = Assert.Single(events);
            Assert.Equal(custom.Id, response.Pid);
            Assert.Equal(DnsQr.Response, response.Qr);
            Assert.Equal(DnsPacketType.Outgoing, response.PacketType);
            Assert.Equal(CustomPort, response.Src.Port);
            Assert.NotEqual(client, response.Pid);
            Assert.Equal(0ul, capture.Counters.FilteredAgent);
        }
        finally
        {
            Processes.Stop(standard);
            Processes.Stop(custom);
        }
    }
}
