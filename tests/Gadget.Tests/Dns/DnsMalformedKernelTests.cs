using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Gadget.Agent.Gadgets.Dns;
using Gadget.Protocol.V1;
using Gadget.Tests.Kernel;
using Xunit;

namespace Gadget.Tests.Dns;

/// <summary>
/// Hostile DNS packets on a real socket: every malformed message, down to an empty datagram, lands
/// in exactly one of the trace's counters (malformed), none is delivered, and none vanishes.
/// </summary>
[Collection(KernelTests.Name)]
public sealed class DnsMalformedKernelTests
{
    /// <summary>A port no other DNS traffic on the host uses, so the trace sees only these packets.</summary>
    private const int Port = 5399;

    private static readonly IPAddress Server = IPAddress.Parse("127.0.78.9");

    [KernelFact]
    public void EveryMalformedPacketIsCountedOnceEachWay()
    {
        byte[][] packets = MalformedMessages();
        Assert.Equal(26, packets.Length);

        using var server = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        server.Bind(new IPEndPoint(Server, Port));
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        client.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        using DnsCapture capture = DnsCapture.Start(TimeSpan.FromSeconds(1), new Dictionary<string, string> { [DnsGadget.PortsParameter] = Port.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        TraceCounters before = capture.Counters;

        foreach (byte[] packet in packets)
        {
            client.SendTo(packet, new IPEndPoint(Server, Port));
        }

        // The server's socket received every one: the ingress program ran for each.
        var buffer = new byte[1024];
        server.ReceiveTimeout = 5000;
        for (int i = 0; i < packets.Length; i++)
        {
            Assert.Equal(packets[i].Length, server.Receive(buffer));
        }

        // Once as it left the client's socket, once as it reached the server's.
        const ulong expected = 2 * 26;
        var clock = Stopwatch.StartNew();
        while (capture.Counters.Malformed - before.Malformed < expected && clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            Thread.Sleep(20);
        }

        Thread.Sleep(300); // anything counted twice would be in by now
        TraceCounters after = capture.Counters;
        // Seen, malformed, filtered, lost in the agent, lost in the kernel.
        Assert.Equal(
            (expected, expected, 0ul, 0ul, 0ul),
            (after.Seen - before.Seen, after.Malformed - before.Malformed, after.FilteredAgent - before.FilteredAgent, after.LostAgent - before.LostAgent, after.LostKernel - before.LostKernel));
        Assert.Empty(capture.Events);
    }

    /// <summary>
    /// 26 messages no DNS parser can read: four shorter than a header (0, 1, 5 and 11 bytes), and
    /// eleven broken questions, each as a query and as a response.
    /// </summary>
    private static byte[][] MalformedMessages()
    {
        byte[] label63 = [63, .. Enumerable.Repeat((byte)'a', 63)];
        byte[][] questions =
        [
            [],                                         // a question counted, none there
            [5, (byte)'a', (byte)'b'],                  // a label longer than what is left
            [0x40, 0],                                  // extended label type 0x40
            [0x80, 0],                                  // extended label type 0x80
            [0xC0, 12, 0, 1, 0, 1],                     // a pointer to itself
            [0xC0, 200, 0, 1, 0, 1],                    // a pointer past the end
            [0xC0],                                     // half a pointer
            [3, (byte)'a', (byte)'b', (byte)'c'],       // a name that never ends
            [3, (byte)'a', (byte)'b', (byte)'c', 0],    // no type or class
            [3, (byte)'a', (byte)'b', (byte)'c', 0, 0, 1, 0], // half a class
            [.. label63, .. label63, .. label63, .. label63, 0, 0, 1, 0, 1], // a name over 255 bytes
        ];

        List<byte[]> messages = [[], [0x12], [0x12, 0x34, 0x01, 0x00, 0x00], new byte[11]];
        ushort id = 0x4000;
        foreach (bool response in new[] { false, true })
        {
            foreach (byte[] question in questions)
            {
                byte[] header = [(byte)(id >> 8), (byte)id++, response ? (byte)0x81 : (byte)0x01, response ? (byte)0x80 : (byte)0x00, 0, 1, 0, 0, 0, 0, 0, 0];
                messages.Add([.. header, .. question]);
            }
        }

        foreach (byte[] message in messages)
        {
            Assert.False(DnsParser.TryParse(message, out _), Convert.ToHexString(message));
        }

        return [.. messages];
    }
}
