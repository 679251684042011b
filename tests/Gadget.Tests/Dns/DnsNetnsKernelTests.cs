using System.Net;
using System.Runtime.InteropServices;
using Gadget.Tests.Kernel;
using Xunit;

namespace Gadget.Tests.Dns;

/// <summary>
/// Lookups from inside a network namespace the test creates, with its own dnsmasq on its own
/// loopback: attributed to the right process and namespace, over IPv6 (::1), and from three kinds of
/// client: dig, glibc (getent) and .NET's resolver. glibc reads the host's /etc/resolv.conf, so the
/// namespace's loopback also carries the host's nameserver address: the lookups stay inside it.
/// </summary>
[Collection(KernelTests.Name)]
public sealed partial class DnsNetnsKernelTests
{
    private const int CLONE_NEWNET = 0x40000000;

    [KernelFact]
    public void LookupsInsideANetworkNamespaceAreAttributedToTheirProcess()
    {
        string netns = $"gadget-dns-{Environment.ProcessId}";
        IPAddress hostNameserver = HostNameserver();
        System.Diagnostics.Process? dnsmasq = null;
        Processes.Run("ip", "netns", "add", netns);
        try
        {
            Processes.Run("ip", "-n", netns, "link", "set", "lo", "up");
            if (!IPAddress.IsLoopback(hostNameserver))
            {
                Processes.Run("ip", "-n", netns, "addr", "add", hostNameserver.ToString(), "dev", "lo");
            }

            ulong netnsId = Inode($"/run/netns/{netns}");
            IPAddress[] listen = [IPAddress.Loopback, IPAddress.IPv6Loopback, .. IPAddress.IsLoopback(hostNameserver) ? Array.Empty<IPAddress>() : [hostNameserver]];
            dnsmasq = Processes.StartDnsmasq(listen, netns);
            Thread.Sleep(200); // dnsmasq has settled (IPv6 DAD on lo is instant)

            using DnsCapture capture = DnsCapture.Start(TimeSpan.FromSeconds(5));
            int digPid = Processes.Run("ip", "netns", "exec", netns, "dig", "@::1", "+tries=1", "+timeout=2", "AAAA", "v6.known.test").Pid;
            int getentPid = Processes.Run("ip", "netns", "exec", netns, "getent", "ahostsv4", "glibc.known.test").Pid;
            (int dotnetTid, IPAddress[] dotnetAnswer) = ResolveInNamespace(netns, "dotnet.known.test");

            IReadOnlyList<DnsEvent> events = capture.WaitFor(e => e.Name == "dotnet.known.test." && e.Qr == DnsQr.Response, TimeSpan.FromSeconds(10), ".NET's response");

            // dig over IPv6.
            DnsEvent digQuery = Assert.Single(events, e => e.Pid == digPid && e.Qr == DnsQr.Query && e.Name == "v6.known.test.");
            DnsEvent digResponse = Assert.Single(events, e => e.Pid == digPid && e.Qr == DnsQr.Response && e.PacketType == DnsPacketType.Host);
            Assert.Equal(IPAddress.IPv6Loopback, digQuery.Nameserver);
            Assert.Equal(new IPEndPoint(IPAddress.IPv6Loopback, 53), digQuery.Dst);
            Assert.Equal(DnsQueryType.AAAA, digResponse.QType);
            Assert.Equal([IPAddress.Parse("fd00::1:2:3")], digResponse.Addresses);
            Assert.Equal(netnsId, digQuery.NetNsId);
            Assert.Equal(netnsId, digResponse.NetNsId);
            Assert.NotNull(digResponse.Latency);

            // glibc, through /etc/resolv.conf.
            DnsEvent getentQuery = Assert.Single(events, e => e.Pid == getentPid && e.Qr == DnsQr.Query && e.QType == DnsQueryType.A);
            Assert.Equal("glibc.known.test.", getentQuery.Name);
            Assert.Equal("getent", getentQuery.Comm);
            Assert.Equal(netnsId, getentQuery.NetNsId);
            DnsEvent getentResponse = Assert.Single(events, e => e.Pid == getentPid && e.Qr == DnsQr.Response && e.QType == DnsQueryType.A);
            Assert.Equal([IPAddress.Parse("127.1.2.3")], getentResponse.Addresses);

            // .NET's resolver, on a thread of this very process.
            Assert.Contains(IPAddress.Parse("127.1.2.3"), dotnetAnswer);
            DnsEvent[] dotnet = [.. events.Where(e => e.Name == "dotnet.known.test." && e.Pid == Environment.ProcessId)];
            Assert.Contains(dotnet, e => e.Qr == DnsQr.Query && e.Tid == dotnetTid && e.NetNsId == netnsId);
            Assert.Contains(dotnet, e => e.Qr == DnsQr.Response && e.Addresses.Contains(IPAddress.Parse("127.1.2.3")));

            // The namespace's server is seen answering, as itself.
            Assert.Contains(events, e => e.Pid == dnsmasq.Id && e.Comm == "dnsmasq" && e.Qr == DnsQr.Response && e.PacketType == DnsPacketType.Outgoing && e.NetNsId == netnsId);
        }
        finally
        {
            Processes.Stop(dnsmasq);
            Processes.Run("ip", "netns", "delete", netns);
        }
    }

    /// <summary>Resolves a name with System.Net.Dns on a thread moved into <paramref name="netns"/>; returns that thread's id.</summary>
    private static (int Tid, IPAddress[] Addresses) ResolveInNamespace(string netns, string name)
    {
        int tid = 0;
        IPAddress[] addresses = [];
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var handle = File.OpenHandle($"/run/netns/{netns}");
                if (setns((int)handle.DangerousGetHandle(), CLONE_NEWNET) != 0)
                {
                    throw new InvalidOperationException($"setns failed: {Marshal.GetLastPInvokeError()}");
                }

                tid = gettid();
                addresses = System.Net.Dns.GetHostAddresses(name, System.Net.Sockets.AddressFamily.InterNetwork);
            }
            catch (Exception exception)
            {
                failure = exception;
            }
        });
        thread.Start();
        thread.Join();
        return failure is null ? (tid, addresses) : throw new InvalidOperationException("Resolving in the namespace failed.", failure);
    }

    private static IPAddress HostNameserver()
    {
        foreach (string line in File.Exists("/etc/resolv.conf") ? File.ReadLines("/etc/resolv.conf") : [])
        {
            string[] fields = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (fields is ["nameserver", var address, ..] && IPAddress.TryParse(address, out IPAddress? parsed))
            {
                return parsed;
            }
        }

        return IPAddress.Loopback; // glibc's default
    }

    private static ulong Inode(string path)
    {
        (_, _, string output) = Processes.Run("stat", "-L", "-c", "%i", path);
        return ulong.Parse(output.Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setns(int fd, int nstype);

    [LibraryImport("libc")]
    private static partial int gettid();
}
