using System.Net;
using Gadget.Agent.Gadgets.Dns;
using Xunit;

namespace Gadget.Tests.Dns;

public sealed class DnsParserTests
{
    [Fact]
    public void QueryHeaderAndQuestion()
    {
        byte[] query = DnsWire.Query(0xBEEF, "www.Example.com", DnsWire.TypeAaaa);

        Assert.True(DnsParser.TryParse(query, out DnsMessage? message));
        Assert.Equal(0xBEEF, message!.Id);
        Assert.False(message.Response);
        Assert.Equal(0, message.Rcode);
        Assert.Equal("www.Example.com.", message.Name);
        Assert.Equal(DnsWire.TypeAaaa, message.QType);
        Assert.Equal(0, message.AnswerCount);
        Assert.Empty(message.Addresses);
        Assert.False(message.AnswersIncomplete);
    }

    [Fact]
    public void ResponseCompressedAnswersGiveAddressesInOrder()
    {
        IPAddress v4 = IPAddress.Parse("127.1.2.3");
        IPAddress v6 = IPAddress.Parse("fd00::1:2:3");
        byte[] response = DnsWire.Response(7, "known.test", DnsWire.TypeA, rcode: 0, v4, v6);

        Assert.True(DnsParser.TryParse(response, out DnsMessage? message));
        Assert.True(message!.Response);
        Assert.Equal(2, message.AnswerCount);
        Assert.Equal([v4, v6], message.Addresses.Select(a => new IPAddress(a)));
        Assert.Equal("known.test.", message.Name);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(2)]
    [InlineData(5)]
    public void ResponseRcode(int rcode)
    {
        Assert.True(DnsParser.TryParse(DnsWire.Response(1, "nx.test", DnsWire.TypeA, rcode), out DnsMessage? message));
        Assert.Equal(rcode, message!.Rcode);
    }

    [Fact]
    public void NoQuestionIsReadWithAnEmptyName()
    {
        var bytes = new List<byte>();
        DnsWire.Header(bytes, 9, 0x8000, qd: 0, an: 0);

        Assert.True(DnsParser.TryParse([.. bytes], out DnsMessage? message));
        Assert.Equal(string.Empty, message!.Name);
        Assert.Equal(0, message.QType);
    }

    [Fact]
    public void RootNameIsADot()
    {
        Assert.True(DnsParser.TryParse(DnsWire.Query(1, ".", 2), out DnsMessage? message));
        Assert.Equal(".", message!.Name);
    }

    [Fact]
    public void UnusualLabelBytesAreEscapedAsInAZoneFile()
    {
        var bytes = new List<byte>();
        DnsWire.Header(bytes, 1, 0, qd: 1, an: 0);
        bytes.AddRange([4, (byte)'a', (byte)'.', (byte)' ', 0xFF, 4, (byte)'t', (byte)'e', (byte)'s', (byte)'t', 0, 0, 1, 0, 1]);

        Assert.True(DnsParser.TryParse([.. bytes], out DnsMessage? message));
        Assert.Equal(@"a\.\032\255.test.", message!.Name);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(11)]
    public void ShorterThanAHeaderFails(int length)
        => Assert.False(DnsParser.TryParse(new byte[length], out _));

    [Fact]
    public void QuestionCutShortFails()
    {
        byte[] query = DnsWire.Query(1, "known.test", 1);
        for (int length = 12; length < query.Length; length++)
        {
            Assert.False(DnsParser.TryParse(query.AsSpan(0, length), out _), $"length {length}");
        }
    }

    [Fact]
    public void AnswersCutShortKeepHeaderAndQuestion()
    {
        byte[] response = DnsWire.Response(1, "known.test", 1, 0, IPAddress.Parse("10.0.0.1"), IPAddress.Parse("10.0.0.2"));

        Assert.True(DnsParser.TryParse(response.AsSpan(0, response.Length - 2), out DnsMessage? message));
        Assert.True(message!.AnswersIncomplete);
        Assert.Equal("known.test.", message.Name);
        Assert.Equal([IPAddress.Parse("10.0.0.1")], message.Addresses.Select(a => new IPAddress(a)));
    }

    [Fact]
    public void PointerToItselfFails()
    {
        var bytes = new List<byte>();
        DnsWire.Header(bytes, 1, 0, qd: 1, an: 0);
        bytes.AddRange([0xC0, 12, 0, 1, 0, 1]);
        Assert.False(DnsParser.TryParse([.. bytes], out _));
    }

    [Fact]
    public void PointerLoopThroughALabelFails()
    {
        // offset 12: label "a", then a pointer back to 12: a.a.a.a... forever without the guard.
        var bytes = new List<byte>();
        DnsWire.Header(bytes, 1, 0, qd: 1, an: 0);
        bytes.AddRange([1, (byte)'a', 0xC0, 12, 0, 1, 0, 1]);
        Assert.False(DnsParser.TryParse([.. bytes], out _));
    }

    [Fact]
    public void PointerForwardFails()
    {
        var bytes = new List<byte>();
        DnsWire.Header(bytes, 1, 0, qd: 1, an: 0);
        bytes.AddRange([0xC0, 14, 1, (byte)'a', 0, 0, 1, 0, 1]);
        Assert.False(DnsParser.TryParse([.. bytes], out _));
    }

    [Fact]
    public void ChainOfBackwardPointersIsFollowed()
    {
        // An answer name that points at a name that itself ends in a pointer (two jumps).
        var bytes = new List<byte>();
        DnsWire.Header(bytes, 1, 0x8180, qd: 1, an: 1);
        DnsWire.Name(bytes, "example.test");           // 12: question name
        bytes.AddRange([0, 1, 0, 1]);
        int www = bytes.Count;                          // "www" + pointer to 12
        bytes.AddRange([3, (byte)'w', (byte)'w', (byte)'w', 0xC0, 12]);
        bytes.AddRange([0xC0, (byte)www, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 9]); // answer: name -> www
        byte[] message = [.. bytes];

        Assert.True(DnsParser.TryParse(message, out DnsMessage? parsed));
        Assert.Equal("example.test.", parsed!.Name);

        // The answer's name: a pointer to "www", which ends in a pointer to the question's name.
        int offset = www + 6;
        Assert.True(DnsParser.TryReadName(message, ref offset, out string name));
        Assert.Equal("www.example.test.", name);
        Assert.Equal(www + 8, offset);
    }

    [Fact]
    public void LabelLongerThanTheMessageFails()
    {
        var bytes = new List<byte>();
        DnsWire.Header(bytes, 1, 0, qd: 1, an: 0);
        bytes.AddRange([63, (byte)'a', (byte)'b']);
        Assert.False(DnsParser.TryParse([.. bytes], out _));
    }

    [Fact]
    public void NameLongerThan255BytesFails()
    {
        var bytes = new List<byte>();
        DnsWire.Header(bytes, 1, 0, qd: 1, an: 0);
        for (int i = 0; i < 5; i++)
        {
            bytes.Add(63);
            bytes.AddRange(Enumerable.Repeat((byte)'x', 63));
        }

        bytes.AddRange([0, 0, 1, 0, 1]);
        Assert.False(DnsParser.TryParse([.. bytes], out _));
    }

    [Fact]
    public void NameOf255BytesIsRead()
    {
        var bytes = new List<byte>();
        DnsWire.Header(bytes, 1, 0, qd: 1, an: 0);
        // 3 labels of 63 + one of 61: 4 + 63*3 + 61 + root = 255 bytes on the wire.
        foreach (int length in new[] { 63, 63, 63, 61 })
        {
            bytes.Add((byte)length);
            bytes.AddRange(Enumerable.Repeat((byte)'x', length));
        }

        bytes.AddRange([0, 0, 1, 0, 1]);
        Assert.True(DnsParser.TryParse([.. bytes], out DnsMessage? message));
        Assert.Equal(254, message!.Name.Length);
    }

    [Fact]
    public void ExtendedLabelTypeFails()
    {
        var bytes = new List<byte>();
        DnsWire.Header(bytes, 1, 0, qd: 1, an: 0);
        bytes.AddRange([0x41, 0, 0, 1, 0, 1]);
        Assert.False(DnsParser.TryParse([.. bytes], out _));
    }

    [Fact]
    public void AddressRecordOfTheWrongLengthIsSkipped()
    {
        var bytes = new List<byte>();
        DnsWire.Header(bytes, 1, 0x8180, qd: 1, an: 1);
        DnsWire.Name(bytes, "a.test");
        bytes.AddRange([0, 1, 0, 1, 0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 3, 1, 2, 3]);
        Assert.True(DnsParser.TryParse([.. bytes], out DnsMessage? message));
        Assert.Empty(message!.Addresses);
        Assert.False(message.AnswersIncomplete);
    }
}
