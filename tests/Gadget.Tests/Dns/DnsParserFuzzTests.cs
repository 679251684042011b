using System.Net;
using Gadget.Agent.Gadgets.Dns;
using Xunit;

namespace Gadget.Tests.Dns;

/// <summary>
/// The parser reads bytes from any process on the host: random and damaged messages must come back
/// as a parse failure, never as an exception or a hang. Fixed seed, so a failure replays.
/// </summary>
public sealed class DnsParserFuzzTests
{
    private const int Seed = 20240531;
    private const int Iterations = 1_200_000;

    [Fact]
    public void MillionsOfRandomAndMutatedMessagesNeverThrow()
    {
        var random = new Random(Seed);
        byte[][] seeds = SeedMessages();
        byte[] buffer = new byte[1024];
        int parsed = 0, failed = 0;
        var escaped = new List<string>();

        for (int i = 0; i < Iterations; i++)
        {
            int length = (i % 4) switch
            {
                0 => RandomBytes(random, buffer),
                1 => RandomHeaderAndTail(random, buffer),
                _ => Mutate(random, seeds[random.Next(seeds.Length)], buffer),
            };

            try
            {
                if (DnsParser.TryParse(buffer.AsSpan(0, length), out DnsMessage? message))
                {
                    parsed++;
                    Assert.NotNull(message);
                    Assert.True(message!.Name.Length <= DnsParser.MaxNameLength * 4);
                }
                else
                {
                    failed++;
                }
            }
            catch (Exception exception) when (exception is not Xunit.Sdk.XunitException)
            {
                if (escaped.Count < 5)
                {
                    escaped.Add($"#{i} ({Convert.ToHexString(buffer, 0, length)}): {exception}");
                }
            }
        }

        Assert.Empty(escaped);
        Assert.Equal(Iterations, parsed + failed);
        // Both outcomes must be exercised in quantity, or the generator is not doing its job.
        Assert.True(parsed > Iterations / 10, $"only {parsed} parsed");
        Assert.True(failed > Iterations / 10, $"only {failed} failed");
    }

    [Fact]
    public void DecoderOnDamagedRecordsOnlyEverReportsMalformed()
    {
        var random = new Random(Seed + 1);
        Gadgets.AgentRows agent = DnsDecoderTests.Agent(names: "*.test", responseTimeoutMs: "1000");
        byte[][] seeds = SeedMessages();
        byte[] buffer = new byte[1024];
        int decoded = 0, malformed = 0;
        for (int i = 0; i < 200_000; i++)
        {
            int length = i % 2 == 0 ? RandomHeaderAndTail(random, buffer) : Mutate(random, seeds[random.Next(seeds.Length)], buffer);
            byte[] record = DnsDecoderTests.Record(buffer[..Math.Min(Math.Max(length, 2), 512)], outgoing: random.Next(2) == 0, cookie: (ulong)random.Next(4), bootNs: (ulong)i * 1000);
            if (random.Next(50) == 0)
            {
                record = record[..random.Next(record.Length)]; // a record cut short
            }

            try
            {
                _ = agent.Add(record);
                decoded++;
            }
            catch (Gadget.Agent.Decoding.MalformedRecordException)
            {
                malformed++;
            }

            agent.Tick((ulong)i * 1000);
            if (agent.Batch.Length > 1 << 20)
            {
                agent.Batch.Reset();
            }
        }

        Assert.True(decoded > 10_000 && malformed > 10_000, $"{decoded} decoded, {malformed} malformed");
    }

    private static byte[][] SeedMessages() =>
    [
        DnsWire.Query(1, "known.test", DnsWire.TypeA),
        DnsWire.Query(2, "a.very.long.name.with.many.labels.example.com", DnsWire.TypeAaaa),
        DnsWire.Response(3, "known.test", DnsWire.TypeA, 0, IPAddress.Parse("127.1.2.3")),
        DnsWire.Response(4, "known.test", DnsWire.TypeAaaa, 0, IPAddress.Parse("fd00::1"), IPAddress.Parse("10.0.0.1"), IPAddress.Parse("::2")),
        DnsWire.Response(5, "nx.test", DnsWire.TypeA, 3),
    ];

    private static int RandomBytes(Random random, byte[] buffer)
    {
        int length = random.Next(0, 600);
        random.NextBytes(buffer.AsSpan(0, length));
        return length;
    }

    /// <summary>A plausible header with small counts, then random bytes rich in pointers and label lengths.</summary>
    private static int RandomHeaderAndTail(Random random, byte[] buffer)
    {
        int length = random.Next(12, 600);
        random.NextBytes(buffer.AsSpan(0, length));
        buffer[4] = 0;
        buffer[5] = (byte)random.Next(0, 3);
        buffer[6] = 0;
        buffer[7] = (byte)random.Next(0, 8);
        for (int i = 12; i < length; i++)
        {
            int pick = random.Next(8);
            buffer[i] = pick switch
            {
                0 => (byte)(0xC0 | random.Next(0, 4)),
                1 => (byte)random.Next(0, 64),
                2 => 0,
                _ => buffer[i],
            };
        }

        return length;
    }

    /// <summary>A valid message with a few bytes flipped, pointers planted, or its end cut or extended.</summary>
    private static int Mutate(Random random, byte[] message, byte[] buffer)
    {
        int length = message.Length;
        message.CopyTo(buffer, 0);
        int mutations = random.Next(1, 6);
        for (int m = 0; m < mutations; m++)
        {
            int position = random.Next(length);
            switch (random.Next(6))
            {
                case 0:
                    buffer[position] = (byte)random.Next(256);
                    break;
                case 1:
                    buffer[position] ^= (byte)(1 << random.Next(8));
                    break;
                case 2 when position + 1 < length:
                    buffer[position] = 0xC0;
                    buffer[position + 1] = (byte)random.Next(0, length + 4);
                    break;
                case 3:
                    length = random.Next(0, length + 1);
                    break;
                case 4 when length + 16 < buffer.Length:
                    random.NextBytes(buffer.AsSpan(length, 16));
                    length += 16;
                    break;
                default:
                    buffer[position] = (byte)random.Next(0, 70); // a label length, maybe oversized
                    break;
            }

            if (length == 0)
            {
                break;
            }
        }

        return length;
    }
}
