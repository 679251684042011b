using System.Buffers.Binary;
using Gadget.Schema;
using Xunit;

namespace Gadget.Tests.Schema;

/// <summary>
/// A real object cut short or with bytes changed: the reader either describes it or throws
/// <see cref="GadgetObjectException"/> from one of its own checks, and always returns promptly.
/// The seeds are fixed, so a failure repeats.
/// </summary>
public sealed class HostileObjectTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(2);

    private static readonly uint[] InterestingWords =
        [0, 1, 2, 3, 4, 7, 8, 12, 16, 24, 64, 255, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFF0];

    [Fact]
    public void TruncatedObjectsFailCleanly()
    {
        byte[] original = TestPrograms.Object("markers.bpf.c");
        var random = new Random(1);
        WithinDeadline(() =>
        {
            for (int length = 0; length < 256; length++)
            {
                Check(original[..length], $"cut to {length} bytes");
            }

            for (int i = 0; i < 400; i++)
            {
                int length = random.Next(original.Length);
                Check(original[..length], $"cut to {length} bytes");
            }
        });
    }

    [Fact]
    public void ObjectsWithFlippedBytesFailCleanly()
    {
        byte[] original = TestPrograms.Object("markers.bpf.c");
        (int btfStart, int btfLength) = SectionRange(original, ".BTF");
        int tableStart = (int)BinaryPrimitives.ReadInt64LittleEndian(original.AsSpan(0x28));
        var random = new Random(2);
        WithinDeadline(() =>
        {
            for (int i = 0; i < 3000; i++)
            {
                byte[] bytes = (byte[])original.Clone();
                int flips = 1 + random.Next(4);
                var changed = new List<int>();
                for (int f = 0; f < flips; f++)
                {
                    // Mostly where the reader looks: the BTF, and the section headers.
                    int at = (i % 4) switch
                    {
                        0 or 1 => btfStart + random.Next(btfLength),
                        2 => tableStart + random.Next(original.Length - tableStart),
                        _ => random.Next(original.Length),
                    };
                    bytes[at] ^= (byte)(1 + random.Next(255));
                    changed.Add(at);
                }

                Check(bytes, $"bytes changed at {string.Join(", ", changed)}");
            }
        });
    }

    [Fact]
    public void BtfWithInterestingWordsFailsCleanly()
    {
        byte[] original = TestPrograms.Object("markers.bpf.c");
        (int btfStart, int btfLength) = SectionRange(original, ".BTF");
        WithinDeadline(() =>
        {
            // Every aligned word of the BTF, set to each value that breaks lengths, counts, ids
            // and offsets.
            for (int word = 0; word + 4 <= btfLength; word += 4)
            {
                foreach (uint value in InterestingWords)
                {
                    byte[] bytes = (byte[])original.Clone();
                    BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(btfStart + word), value);
                    Check(bytes, $"BTF word at {word} set to 0x{value:X}");
                }
            }
        });
    }

    [Fact]
    public void RepositoryObjectsWithFlippedBytesFailCleanly()
    {
        var random = new Random(4);
        WithinDeadline(() =>
        {
            foreach ((string name, byte[] original) in RepositoryObjectTests.Objects())
            {
                (int btfStart, int btfLength) = SectionRange(original, ".BTF");
                for (int i = 0; i < 300; i++)
                {
                    byte[] bytes = (byte[])original.Clone();
                    int at = btfStart + random.Next(btfLength);
                    bytes[at] ^= (byte)(1 + random.Next(255));
                    Check(bytes, $"{name}: byte changed at {at}");
                }
            }
        });
    }

    /// <summary>Reads the object and everything it describes; the only failure allowed is the reader's own.</summary>
    private static void Check(byte[] bytes, string mutation)
    {
        try
        {
            GadgetObjectInfo info = GadgetObjectReader.Read(bytes);
            // Flatten every struct too: the markers covered only some of them.
            var builder = new SchemaBuilder(info.Btf);
            foreach (BtfType type in info.Btf.TypesOfKind(BtfKind.Struct))
            {
                try
                {
                    _ = builder.BuildStruct(type);
                }
                catch (GadgetObjectException e) when (e.InnerException is null)
                {
                }
            }
        }
        catch (GadgetObjectException e)
        {
            // An inner exception means a bounds check was missed and the guard caught what it raised.
            Assert.True(e.InnerException is null, $"{mutation}: {e.InnerException}");
        }
    }

    private static void WithinDeadline(Action action)
    {
        Task run = Task.Run(action);
        Assert.True(run.Wait(Deadline), $"The reader did not finish within {Deadline}: a loop is not bounded.");
    }

    private static (int Start, int Length) SectionRange(byte[] elf, string name)
    {
        Assert.True(ElfObject.Parse(elf).TryGetSection(name, out ReadOnlyMemory<byte> section));
        // Sections are slices of the array they were parsed from, so their start is recoverable.
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(section, out ArraySegment<byte> segment));
        return (segment.Offset, segment.Count);
    }
}
