using Gadget.Agent.Services;
using Gadget.Protocol.V1;
using Google.Protobuf;
using Xunit;

namespace Gadget.Tests.Gadgets;

/// <summary>
/// The agent writes the Trace stream's batches by hand: its bytes must be exactly what
/// Google.Protobuf writes for the same reply, whatever the events hold.
/// </summary>
public sealed class TraceReplyWriterTests
{
    [Fact]
    public void EveryFieldOfEveryGadgetIsWrittenAsGoogleProtobufWritesIt()
    {
        Event exec = Common(1);
        exec.Exec = new ExecPayload { ExePath = "/usr/bin/ünïcode", Error = 2, ArgsTruncated = true };
        exec.Exec.Args.AddRange(["sh", "", "-c", "echo 'hi' 😀", new string('x', 300)]);
        Event open = Common(2);
        open.Open = new OpenPayload { Path = "rel/p", FullPath = "/abs/rel/p", Fd = -1, Error = 13, Flags = 0x241, Mode = 0x1a4, PathTruncated = true };
        Event dns = Common(3);
        dns.Dns = new DnsPayload
        {
            Response = true, PacketType = 4, Id = 0xffff, Qtype = 28, Name = "a.test.", Rcode = -1, NumAnswers = 300,
            SrcAddr = ByteString.CopyFrom([127, 0, 0, 1]), SrcPort = 53, DstAddr = ByteString.CopyFrom(new byte[16]), DstPort = 65535,
            Protocol = 17, LatencyNs = 0, Truncated = true, SocketCookie = ulong.MaxValue,
        };
        dns.Dns.Addresses.Add(ByteString.CopyFrom([10, 0, 0, 1]));
        dns.Dns.Addresses.Add(ByteString.Empty);
        Event bare = new();
        Event emptyPayload = new() { Open = new OpenPayload() };
        Event negative = Common(4);
        negative.TimestampUnixNs = -1;
        negative.Exec = new ExecPayload { Error = int.MinValue };
        var batch = new EventBatch();
        batch.Events.AddRange([exec, open, dns, bare, emptyPayload, negative]);
        var container = new ContainerInfo { Id = "c1", MntnsId = 7, PodName = "web-0" };
        container.PodLabels["app"] = "web";
        batch.Containers.Add(container);

        AssertSameBytes(new TraceReply { Batch = batch });
    }

    [Fact]
    public void RandomBatchesAreWrittenAsGoogleProtobufWritesThem()
    {
        var random = new Random(20261126);
        for (int round = 0; round < 200; round++)
        {
            var batch = new EventBatch();
            for (int i = random.Next(0, 40); i > 0; i--)
            {
                batch.Events.Add(RandomEvent(random));
            }

            AssertSameBytes(new TraceReply { Batch = batch });
        }
    }

    [Fact]
    public void CountersNoticesAndEmptyBatchesKeepTheGeneratedCode()
    {
        AssertSameBytes(new TraceReply { Counters = new TraceCounters { Seen = 5, Delivered = 4, LostAgent = 1, Final = true } });
        AssertSameBytes(new TraceReply { Notice = new Notice { Id = "X", Message = "m" } });
        AssertSameBytes(new TraceReply { Batch = new EventBatch() });
    }

    private static void AssertSameBytes(TraceReply reply)
        => Assert.Equal(Convert.ToHexString(reply.ToByteArray()), Convert.ToHexString(TraceReplyWriter.ToByteArray(reply)));

    private static Event Common(uint pid) => new()
    {
        TimestampUnixNs = 1_764_000_000_000_000_000,
        Pid = pid,
        Tid = pid + 100_000,
        Ppid = 1,
        Uid = 1000,
        Gid = 0,
        Comm = "comm-" + pid,
        MntnsId = 4026531841,
        NetnsId = 0,
    };

    private static Event RandomEvent(Random random)
    {
        var wire = new Event
        {
            TimestampUnixNs = random.Next(3) == 0 ? 0 : random.NextInt64(long.MinValue, long.MaxValue),
            Pid = RandomUInt(random),
            Tid = RandomUInt(random),
            Ppid = RandomUInt(random),
            Uid = RandomUInt(random),
            Gid = RandomUInt(random),
            Comm = RandomString(random, 16),
            MntnsId = random.Next(3) == 0 ? 0 : (ulong)random.NextInt64(),
            NetnsId = random.Next(3) == 0 ? 0 : (ulong)random.NextInt64(),
        };
        switch (random.Next(4))
        {
            case 0:
                wire.Exec = new ExecPayload { ExePath = RandomString(random, 64), Error = RandomInt(random), ArgsTruncated = random.Next(2) == 0 };
                for (int i = random.Next(0, 6); i > 0; i--)
                {
                    wire.Exec.Args.Add(RandomString(random, 200));
                }

                break;
            case 1:
                wire.Open = new OpenPayload
                {
                    Path = RandomString(random, 255), FullPath = RandomString(random, 300), Fd = RandomInt(random), Error = RandomInt(random),
                    Flags = RandomUInt(random), Mode = RandomUInt(random), PathTruncated = random.Next(2) == 0,
                };
                break;
            case 2:
                wire.Dns = new DnsPayload
                {
                    Response = random.Next(2) == 0, PacketType = RandomUInt(random), Id = RandomUInt(random), Qtype = RandomUInt(random),
                    Name = RandomString(random, 100), Rcode = RandomInt(random), NumAnswers = RandomUInt(random),
                    SrcAddr = RandomBytes(random), SrcPort = RandomUInt(random), DstAddr = RandomBytes(random), DstPort = RandomUInt(random),
                    Protocol = RandomUInt(random), Truncated = random.Next(2) == 0, SocketCookie = random.Next(3) == 0 ? 0 : (ulong)random.NextInt64(),
                };
                if (random.Next(2) == 0)
                {
                    wire.Dns.LatencyNs = random.Next(3) == 0 ? 0 : (ulong)random.NextInt64();
                }

                for (int i = random.Next(0, 4); i > 0; i--)
                {
                    wire.Dns.Addresses.Add(RandomBytes(random));
                }

                break;
        }

        return wire;
    }

    private static uint RandomUInt(Random random) => random.Next(4) switch
    {
        0 => 0,
        1 => (uint)random.Next(128),
        2 => (uint)random.Next(),
        _ => uint.MaxValue - (uint)random.Next(100),
    };

    private static int RandomInt(Random random) => random.Next(4) switch
    {
        0 => 0,
        1 => -random.Next(1, 200),
        2 => random.Next(),
        _ => int.MinValue + random.Next(100),
    };

    private static string RandomString(Random random, int maxLength)
    {
        const string alphabet = "abcXYZ019 /._-éü€中😀";
        var text = new System.Text.StringBuilder();
        int length = random.Next(3) == 0 ? 0 : random.Next(maxLength + 1);
        while (text.Length < length)
        {
            int at = random.Next(alphabet.Length);
            text.Append(char.IsHighSurrogate(alphabet[at]) ? alphabet.Substring(at, 2) : char.IsLowSurrogate(alphabet[at]) ? "a" : alphabet[at].ToString());
        }

        return text.ToString();
    }

    private static ByteString RandomBytes(Random random)
    {
        byte[] bytes = new byte[random.Next(3) == 0 ? 0 : random.Next(1, 20)];
        random.NextBytes(bytes);
        return ByteString.CopyFrom(bytes);
    }
}
