using Microsoft.Win32.SafeHandles;

namespace Gadget.Bpf;

/// <summary>Owns a struct bpf_object*; closing it unloads its programs and maps.</summary>
internal sealed class BpfObjectHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public BpfObjectHandle() : base(ownsHandle: true) { }

    internal BpfObjectHandle(nint handle) : base(ownsHandle: true) => SetHandle(handle);

    protected override bool ReleaseHandle()
    {
        Interop.Libbpf.bpf_object__close(handle);
        return true;
    }
}

/// <summary>Owns a struct bpf_link*; destroying it detaches the program.</summary>
internal sealed class BpfLinkHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public BpfLinkHandle() : base(ownsHandle: true) { }

    internal BpfLinkHandle(nint handle) : base(ownsHandle: true) => SetHandle(handle);

    protected override bool ReleaseHandle() => Interop.Libbpf.bpf_link__destroy(handle) == 0;
}

/// <summary>Owns a struct ring_buffer*.</summary>
internal sealed class RingBufferHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public RingBufferHandle() : base(ownsHandle: true) { }

    internal RingBufferHandle(nint handle) : base(ownsHandle: true) => SetHandle(handle);

    protected override bool ReleaseHandle()
    {
        Interop.Libbpf.ring_buffer__free(handle);
        return true;
    }
}

/// <summary>Owns a file descriptor opened through libc (a cgroup directory to attach to).</summary>
internal sealed class FileDescriptorHandle : SafeHandleMinusOneIsInvalid
{
    public FileDescriptorHandle() : base(ownsHandle: true) { }

    internal FileDescriptorHandle(int fd) : base(ownsHandle: true) => SetHandle(fd);

    public int Fd => (int)handle;

    protected override bool ReleaseHandle() => Interop.Libc.close((int)handle) == 0;
}
