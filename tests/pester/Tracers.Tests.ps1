#Requires -Version 7.6
# Trace-GadgetTcp, -Bind, -Mount, -OomKill and -Capabilities through one shared agent (started here
# on a private socket): real activity by python3 children, in network and mount namespaces of their
# own, in a memory cgroup with a small limit.
param([string] $ModulePath = $env:GADGET_MODULE_PATH)

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    $script:SkipKernel = -not (Test-KernelTracing)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    Import-Module (Join-Path $ModulePath 'Gadget.psd1') -Force
    $script:Agent = Enter-TestAgent -ModulePath $ModulePath

    # The escape sequences PowerShell styles table headers with: they take no column.
    $script:Ansi = '\x1b\[[0-9;]*m'

    function Start-PythonActivity {
        # Every $IntervalMilliseconds until stopped: runs python3 -c $Script $Arguments, in the
        # namespaces unshare makes when $Unshare is given (a new network namespace gets its
        # loopback up). Receive-Job returns one { Pid; Output; ExitCode } per run.
        param([string] $Script, [string[]] $Arguments = @(), [string[]] $Unshare = @(), [string] $Prefix = '', [int] $IntervalMilliseconds = 250, [timespan] $For = '00:02:00')
        Start-ThreadJob -ArgumentList $Script, $Arguments, $Unshare, $Prefix, $IntervalMilliseconds, $For -ScriptBlock {
            param($Script, $Arguments, $Unshare, $Prefix, $IntervalMilliseconds, $For)
            $watch = [Diagnostics.Stopwatch]::StartNew()
            while ($watch.Elapsed -lt $For) {
                $start = [Diagnostics.ProcessStartInfo]::new('/bin/sh')
                $prelude = if ($Unshare -contains '-n') { 'ip link set lo up && ' } else { '' }
                $command = "$Prefix$prelude" + 'exec /usr/bin/python3 -c "$@"'
                $start.ArgumentList.Add('-c')
                if ($Unshare) {
                    $start.FileName = '/usr/bin/unshare'
                    $start.ArgumentList.Clear()
                    foreach ($flag in $Unshare) { $start.ArgumentList.Add($flag) }
                    foreach ($argument in '/bin/sh', '-c') { $start.ArgumentList.Add($argument) }
                }
                $start.ArgumentList.Add($command)
                $start.ArgumentList.Add('sh')
                $start.ArgumentList.Add($Script)
                foreach ($argument in $Arguments) { $start.ArgumentList.Add($argument) }
                $start.RedirectStandardOutput = $true
                $start.RedirectStandardError = $true
                $process = [Diagnostics.Process]::Start($start)
                $output = $process.StandardOutput.ReadToEnd()
                $null = $process.StandardError.ReadToEnd()
                $process.WaitForExit()
                [pscustomobject]@{ Pid = $process.Id; Output = $output.Trim(); ExitCode = $process.ExitCode }
                $process.Dispose()
                Start-Sleep -Milliseconds $IntervalMilliseconds
            }
        }
    }

    function Stop-PythonActivity {
        # Stops the activity and returns its runs.
        param($Job)
        if (-not $Job) { return }
        $Job | Stop-Job
        $Job | Receive-Job -Wait -AutoRemoveJob -ErrorAction Ignore
    }

    function Test-View {
        # The default view of $Events: every header whole, every line within 120 columns.
        param($Events, [string[]] $Columns)
        $lines = @(($Events | Format-Table | Out-String -Width 120) -replace $Ansi -split "`r?`n" | Where-Object { $_.Trim() })
        $lines[0].Trim() | Should -Match ('^' + ($Columns -join '\s+') + '$')
        $lines[0] | Should -Not -Match '…'
        foreach ($line in $lines) { $line.TrimEnd().Length | Should -BeLessOrEqual 120 }
    }
}

AfterAll {
    Exit-TestAgent $script:Agent
}

Describe 'Trace-GadgetTcp -Local' -Skip:$SkipKernel {
    BeforeAll {
        # Connect, accept and close over IPv4 and IPv6 on port 5000, then a connect to 5001, where nothing listens.
        $script:TcpScript = @'
import socket, sys
for family, address in ((socket.AF_INET, '127.0.0.1'), (socket.AF_INET6, '::1')):
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.bind((address, 5000))
    listener.listen()
    client = socket.socket(family, socket.SOCK_STREAM)
    client.connect((address, 5000))
    server, _ = listener.accept()
    client.close()
    server.recv(1)
    server.close()
    listener.close()
try:
    socket.create_connection(('127.0.0.1', 5001))
except ConnectionRefusedError:
    print('refused')
'@
        $script:TcpActivity = Start-PythonActivity -Script $TcpScript -Unshare '-n'
        $null = Receive-Job $TcpActivity
        $script:TcpEvents = @(Trace-GadgetTcp -Local -Duration 4)
        $runs = @(Receive-Job $TcpActivity)
        $script:TcpMine = @($TcpEvents | Where-Object Pid -in $runs.Pid)
        $script:TcpRun = $runs | Where-Object Pid -in $TcpMine.Pid | Select-Object -First 1
        $script:TcpOne = @($TcpMine | Where-Object Pid -eq $TcpRun.Pid)
    }

    AfterAll {
        Stop-PythonActivity $TcpActivity | Out-Null
    }

    It 'writes Gadget.TcpEvent objects for the connections of the activity' {
        $TcpRun | Should -Not -BeNullOrEmpty -Because 'the activity connects several times a second'
        $TcpRun.Output | Should -BeExactly 'refused'
        foreach ($e in $TcpOne) {
            $e | Should -BeOfType ([Gadget.TcpEvent])
            $e.PSObject.TypeNames[0] | Should -BeExactly 'Gadget.TcpEvent'
            $e.Comm | Should -BeExactly 'python3'
        }
    }

    It 'has a connect, an accept and two closes per family, with both ends as IPEndPoints' {
        foreach ($family in 'IPv4', 'IPv6') {
            $loopback = if ($family -eq 'IPv4') { [ipaddress]::Loopback } else { [ipaddress]::IPv6Loopback }
            $ok = @($TcpOne | Where-Object { $_.Family -eq $family -and $_.Error -eq 'None' })
            $connect = @($ok | Where-Object Type -eq 'Connect')
            $connect.Count | Should -Be 1
            $connect[0].Destination | Should -BeOfType ([Net.IPEndPoint])
            $connect[0].Destination | Should -Be ([Net.IPEndPoint]::new($loopback, 5000))
            $accept = @($ok | Where-Object Type -eq Accept)
            $accept.Count | Should -Be 1
            $accept[0].Source | Should -Be ([Net.IPEndPoint]::new($loopback, 5000))
            $accept[0].Destination | Should -Be $connect[0].Source
            @($ok | Where-Object Type -eq Close).Count | Should -Be 2
        }
    }

    It 'reports the refused connect once, with ECONNREFUSED' {
        $refused = @($TcpOne | Where-Object Error -ne 0)
        $refused.Count | Should -Be 1
        $refused[0].Error | Should -Be ([Gadget.Errno]::ECONNREFUSED)
        $refused[0].Type | Should -Be ([Gadget.TcpEventType]::Connect)
        $refused[0].Destination.Port | Should -Be 5001
    }

    It 'renders as a table within 120 columns, every header whole' {
        Test-View $TcpOne 'TIME', 'PID', 'COMM', 'TYPE', 'SOURCE', 'DESTINATION', 'ERROR'
        ($TcpOne | Out-String -Width 120) -replace $Ansi | Should -Match "\b$($TcpRun.Pid)\s+python3\s+Connect\s+127\.0\.0\.1:\d+\s+127\.0\.0\.1:5000\b"
    }

    It 'ToString reads like the table row' {
        $connect = $TcpOne | Where-Object { $_.Type -eq 'Connect' -and $_.Family -eq 'IPv4' -and $_.Error -eq 0 } | Select-Object -First 1
        $connect.ToString() | Should -Match "\b$($TcpRun.Pid) python3 Connect 127\.0\.0\.1:\d+ 127\.0\.0\.1:5000$"
    }

    It 'exports readable CSV: addresses as text' {
        $csv = $TcpOne | Select-Object Type, Source, Destination | ConvertTo-Csv | ConvertFrom-Csv
        @($csv | Where-Object Destination -eq '127.0.0.1:5000').Count | Should -BeGreaterThan 0
    }

    It '-Type and -Port keep only those events, checked in the kernel' {
        $null = Receive-Job $TcpActivity
        $events = @(Trace-GadgetTcp -Local -Type Close -Port 5000 -Duration 3)
        $runs = @(Receive-Job $TcpActivity)
        @($events | Where-Object Pid -in $runs.Pid).Count | Should -BeGreaterThan 0
        @($events.Type | Sort-Object -Unique) | Should -Be @([Gadget.TcpEventType]::Close)
        foreach ($e in $events) { ($e.Source.Port -eq 5000 -or $e.Destination.Port -eq 5000) | Should -BeTrue }
    }

    It 'prints the default view in a fresh pwsh, as a runbook sees it' {
        $command = "Import-Module '$(Join-Path $ModulePath 'Gadget.psd1')'; Trace-GadgetTcp -Local -Port 5000 -Duration 4 | Out-String -Width 120"
        $run = Invoke-FreshPwsh $command
        $run.ExitCode | Should -Be 0 -Because ($run.Errors -replace $Ansi)
        $lines = @($run.Output -replace $Ansi -split "`r?`n" | Where-Object { $_.Trim() })
        $lines[0].TrimEnd() | Should -Match '^TIME\s+PID\s+COMM\s+TYPE\s+SOURCE\s+DESTINATION\s+ERROR$'
        @($lines | Where-Object { $_ -match '\bpython3\s+Accept\b' }).Count | Should -BeGreaterThan 0
    }
}

Describe 'Trace-GadgetBind -Local' -Skip:$SkipKernel {
    BeforeAll {
        $script:BindScript = @'
import socket
listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(('127.0.0.1', 6000))
listener.listen()
taken = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
taken.bind(('::1', 6001))
other = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
try:
    other.bind(('::1', 6001))
except OSError as error:
    print(error.errno)
'@
        $script:BindActivity = Start-PythonActivity -Script $BindScript -Unshare '-n'
        $null = Receive-Job $BindActivity
        $events = @(Trace-GadgetBind -Local -Duration 4)
        $runs = @(Receive-Job $BindActivity)
        $script:BindRun = $runs | Where-Object Pid -in $events.Pid | Select-Object -First 1
        $script:BindOne = @($events | Where-Object Pid -eq $BindRun.Pid)
    }

    AfterAll {
        Stop-PythonActivity $BindActivity | Out-Null
    }

    It 'writes a Gadget.BindEvent per bind: address, protocol, options, error' {
        $BindRun.Output | Should -BeExactly '98'
        $BindOne.Count | Should -Be 3
        $BindOne[0] | Should -BeOfType ([Gadget.BindEvent])
        $BindOne[0].Address | Should -Be ([Net.IPEndPoint]::new([ipaddress]::Loopback, 6000))
        $BindOne[0].Protocol | Should -Be ([Gadget.IpProtocol]::Tcp)
        $BindOne[0].Options | Should -Be ([Gadget.BindOptions]::ReuseAddress)
        $BindOne[0].Error | Should -Be ([Gadget.Errno]::None)
        $BindOne[1].Protocol | Should -Be ([Gadget.IpProtocol]::Udp)
        $BindOne[2].Address | Should -Be ([Net.IPEndPoint]::new([ipaddress]::IPv6Loopback, 6001))
        $BindOne[2].Error | Should -Be ([Gadget.Errno]::EADDRINUSE)
    }

    It 'renders as a table within 120 columns, every header whole' {
        Test-View $BindOne 'TIME', 'PID', 'COMM', 'PROTO', 'ADDRESS', 'ERROR', 'OPTIONS'
        $BindOne[2].ToString() | Should -Match "\b$($BindRun.Pid) python3 Udp \[::1\]:6001 EADDRINUSE$"
    }

    It '-Port and -Failed keep only failed binds to that port, checked in the kernel' {
        $null = Receive-Job $BindActivity
        $events = @(Trace-GadgetBind -Local -Port 6001 -Failed -Duration 3)
        $runs = @(Receive-Job $BindActivity)
        @($events | Where-Object Pid -in $runs.Pid).Count | Should -BeGreaterThan 0
        foreach ($e in $events) {
            $e.Address.Port | Should -Be 6001
            $e.Error | Should -Not -Be ([Gadget.Errno]::None)
        }
    }
}

Describe 'Trace-GadgetMount -Local' -Skip:$SkipKernel {
    BeforeAll {
        $script:MountDirectory = New-TestDirectory 'gadget-mount'
        $script:MountScript = @'
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
target = sys.argv[1].encode()
if libc.mount(b'gadget-pester', target, b'tmpfs', 1, b'size=1m') != 0:
    raise OSError(ctypes.get_errno(), 'mount')
libc.umount2(target, 0)
'@
        $script:MountActivity = Start-PythonActivity -Script $MountScript -Arguments $MountDirectory -Unshare '-m', '--propagation', 'private'
        $null = Receive-Job $MountActivity
        $events = @(Trace-GadgetMount -Local -Duration 4)
        $runs = @(Receive-Job $MountActivity)
        $script:MountOne = @($events | Where-Object { $_.Pid -in $runs.Pid -and $_.Target -eq $MountDirectory } | Select-Object -First 2)
    }

    AfterAll {
        Stop-PythonActivity $MountActivity | Out-Null
        Remove-Item $MountDirectory -Recurse -Force -ErrorAction Ignore
    }

    It 'writes a Gadget.MountEvent for the mount and the umount' {
        $MountOne.Count | Should -Be 2
        $MountOne[0] | Should -BeOfType ([Gadget.MountEvent])
        $MountOne[0].Call | Should -Be ([Gadget.MountCall]::Mount)
        $MountOne[0].Source | Should -BeExactly 'gadget-pester'
        $MountOne[0].FsType | Should -BeExactly 'tmpfs'
        $MountOne[0].Flags | Should -Be ([Gadget.MountFlags]::ReadOnly)
        $MountOne[0].Options | Should -BeExactly 'size=1m'
        $MountOne[0].Error | Should -Be ([Gadget.Errno]::None)
        $MountOne[1].Call | Should -Be ([Gadget.MountCall]::Umount)
        $MountOne[1].Pid | Should -Be $MountOne[0].Pid
    }

    It 'renders as a table within 120 columns, every header whole' {
        Test-View $MountOne 'TIME', 'PID', 'COMM', 'CALL', 'ERROR', 'SOURCE', 'TARGET', 'TYPE', 'FLAGS'
        $MountOne[0].ToString() | Should -Match "\bpython3 Mount gadget-pester $([regex]::Escape($MountDirectory)) tmpfs ReadOnly$"
    }
}

Describe 'Trace-GadgetOomKill -Local' -Skip:$SkipKernel {
    BeforeAll {
        # A memory cgroup (v1) of 30 MiB; each run joins it and allocates 200 MiB.
        $script:Cgroup = "/sys/fs/cgroup/memory/gadget-pester-$([Guid]::NewGuid().ToString('N').Substring(0, 12))"
        New-Item $Cgroup -ItemType Directory | Out-Null
        Set-Content "$Cgroup/memory.limit_in_bytes" (30MB)
        if (Test-Path "$Cgroup/memory.memsw.limit_in_bytes") { Set-Content "$Cgroup/memory.memsw.limit_in_bytes" (30MB) }
        $script:OomActivity = Start-PythonActivity -Script "data = b'x' * (200 << 20)" -Prefix "echo `$`$ > $Cgroup/cgroup.procs && " -IntervalMilliseconds 1000
        $events = @(Trace-GadgetOomKill -Local -Duration 5)
        $runs = @(Receive-Job $OomActivity)
        $script:OomKill = $events | Where-Object Pid -in $runs.Pid | Select-Object -First 1
    }

    AfterAll {
        Stop-PythonActivity $OomActivity | Out-Null
        Wait-Condition { -not (Get-Content "$Cgroup/cgroup.procs") } | Out-Null
        # A cgroup goes with rmdir, its files with it (Remove-Item would ask to recurse).
        [IO.Directory]::Delete($Cgroup)
    }

    It 'writes a Gadget.OomKillEvent for the process killed, with its memory and the trigger' {
        $OomKill | Should -Not -BeNullOrEmpty -Because 'each run exceeds its cgroup''s 30 MiB'
        $OomKill | Should -BeOfType ([Gadget.OomKillEvent])
        $OomKill.Comm | Should -BeExactly 'python3'
        $OomKill.AnonRss | Should -BeGreaterThan 20MB
        $OomKill.AnonRss | Should -BeLessOrEqual 30MB
        $OomKill.TriggerPid | Should -Be $OomKill.Pid
        $OomKill.TriggerComm | Should -BeExactly 'python3'
    }

    It 'renders as a table within 120 columns, every header whole' {
        Test-View $OomKill 'TIME', 'PID', 'COMM', 'ANON-RSS\(MB\)', 'TOTAL-VM\(MB\)', 'TPID', 'TCOMM'
        $OomKill.ToString() | Should -Match "\b$($OomKill.Pid) python3 \d+ \d+ $($OomKill.Pid) python3$"
    }
}

Describe 'Trace-GadgetCapabilities -Local' -Skip:$SkipKernel {
    BeforeAll {
        # CAP_SYS_NICE three times as root, then once as nobody, refused.
        $script:CapScript = @'
import os
for _ in range(3):
    os.nice(-1)
os.setgid(65534)
os.setuid(65534)
try:
    os.nice(-1)
except PermissionError:
    print('refused')
'@
        $script:CapActivity = Start-PythonActivity -Script $CapScript
        $null = Receive-Job $CapActivity
        $events = @(Trace-GadgetCapabilities -Local -Capability CAP_SYS_NICE -Duration 4)
        $runs = @(Receive-Job $CapActivity)
        $script:CapRun = $runs | Where-Object Pid -in $events.Pid | Select-Object -First 1
        $script:CapOne = @($events | Where-Object Pid -eq $CapRun.Pid)
    }

    AfterAll {
        Stop-PythonActivity $CapActivity | Out-Null
    }

    It 'writes a Gadget.CapabilitiesEvent per check, granted and refused' {
        $CapRun.Output | Should -BeExactly 'refused'
        $CapOne.Count | Should -Be 4
        $CapOne[0] | Should -BeOfType ([Gadget.CapabilitiesEvent])
        @($CapOne.Capability | Sort-Object -Unique) | Should -Be @([Gadget.Capability]::CAP_SYS_NICE)
        @($CapOne | Where-Object Granted).Count | Should -Be 3
        $CapOne[3].Granted | Should -BeFalse
        $CapOne[3].Uid | Should -Be 65534
    }

    It 'renders as a table within 120 columns, every header whole' {
        Test-View $CapOne 'TIME', 'PID', 'COMM', 'CAPABILITY', 'VERDICT', 'SYSCALL'
        ($CapOne | Out-String -Width 120) -replace $Ansi | Should -Match "\bpython3\s+CAP_SYS_NICE\s+Deny\b"
        $CapOne[0].ToString() | Should -Match "\b$($CapRun.Pid) python3 CAP_SYS_NICE Allow -?\d+$"
    }

    It '-Unique reports each process''s capability once per verdict, checked in the kernel' {
        $null = Receive-Job $CapActivity
        $events = @(Trace-GadgetCapabilities -Local -Unique -Duration 3)
        $runs = @(Receive-Job $CapActivity)
        $run = $runs | Where-Object Pid -in $events.Pid | Select-Object -First 1
        $mine = @($events | Where-Object Pid -eq $run.Pid)
        @($mine | Where-Object { $_.Capability -eq 'CAP_SYS_NICE' -and $_.Granted }).Count | Should -Be 1
        @($mine | Where-Object { $_.Capability -eq 'CAP_SYS_NICE' -and -not $_.Granted }).Count | Should -Be 1
    }

    It '-Denied keeps only refused checks' {
        $events = @(Trace-GadgetCapabilities -Local -Denied -Duration 3)
        $events.Count | Should -BeGreaterThan 0
        @($events | Where-Object Granted) | Should -BeNullOrEmpty
    }
}

Describe 'The tracers in a real container' -Skip:$SkipKernel {
    BeforeAll {
        # A busybox-static container under containerd and runc, labelled as the kubelet labels the
        # pod tracer-ns/tracer-app, on the host network: in a loop it listens and connects on a
        # port of its own, and tries a mount its capabilities do not allow. A second pod of 30 MiB
        # fills a shell variable with 100 MB, again and again, each time until the killer kills it.
        $script:Work = New-TestDirectory 'gadget-tracer-pods'
        $script:StartedContainerd = Start-TestContainerd

        function Start-TracerPod {
            param([string] $Pod, [string] $Script, [string[]] $Options = @())
            $id = "$Pod-$([Guid]::NewGuid().ToString('N').Substring(0, 8))"
            $rootfs = Join-Path $Work $id
            foreach ($directory in 'bin', 'proc', 'sys', 'dev', 'tmp', 'mnt') { $null = New-Item -ItemType Directory (Join-Path $rootfs $directory) }
            Copy-Item /bin/busybox (Join-Path $rootfs 'bin/busybox')
            foreach ($applet in 'sh', 'sleep', 'echo', 'nc', 'mount', 'head', 'tr', 'true') { $null = New-Item -ItemType SymbolicLink -Path (Join-Path $rootfs "bin/$applet") -Target busybox }
            & ctr -n k8s.io run -d --net-host @Options `
                --label 'io.kubernetes.pod.namespace=tracer-ns' --label "io.kubernetes.pod.name=$Pod" `
                --label "io.kubernetes.container.name=$Pod" --label "io.kubernetes.pod.uid=$([Guid]::NewGuid())" `
                --rootfs $rootfs $id /bin/sh -c $Script | Out-Null
            if ($LASTEXITCODE -ne 0) { throw "ctr run $id failed." }
            $id
        }

        $script:PodPort = Get-Random -Minimum 40000 -Maximum 49000
        $loop = "while true; do nc -l -p $PodPort >/dev/null 2>&1 & sleep 0.2; echo x | nc 127.0.0.1 $PodPort; mount -t tmpfs none /mnt 2>/dev/null; sleep 0.3; done"
        $script:Pod = Start-TracerPod -Pod tracer-app -Script $loop
        # The hog makes itself the killer's first choice, so the loop around it lives on.
        $hog = 'while true; do sh -c ''echo 1000 > /proc/self/oom_score_adj; x=$(head -c 100000000 /dev/zero | tr "\0" x)''; sleep 0.5; done'
        $script:Hog = Start-TracerPod -Pod tracer-hog -Script $hog -Options '--memory-limit', (30MB)
        $script:Agent2 = Start-TestAgent -ModulePath $ModulePath
        $script:SocketBefore = $env:GADGET_AGENT_SOCKET
        $env:GADGET_AGENT_SOCKET = $Agent2.Socket
    }

    AfterAll {
        $env:GADGET_AGENT_SOCKET = $script:SocketBefore
        Stop-TestAgent $script:Agent2
        foreach ($id in $script:Pod, $script:Hog) { Remove-CtrContainer $id }
        Stop-TestContainerd $script:StartedContainerd
        Remove-Item $script:Work -Recurse -Force -ErrorAction Ignore
    }

    It 'Trace-GadgetTcp -Namespace selects the pod''s connections, each with its pod' {
        $events = @(Trace-GadgetTcp -Local -Namespace tracer-ns -Port $PodPort -Duration 4)
        @($events | Where-Object Type -eq Connect).Count | Should -BeGreaterThan 0
        @($events | Where-Object Type -eq Accept).Count | Should -BeGreaterThan 0
        foreach ($e in $events) {
            $e.Namespace | Should -BeExactly 'tracer-ns'
            $e.Pod | Should -BeExactly 'tracer-app'
            $e.Container | Should -BeExactly 'tracer-app'
            $e.Comm | Should -BeExactly 'nc'
        }
    }

    It 'Trace-GadgetBind -Pod selects the pod''s listeners' {
        $events = @(Trace-GadgetBind -Local -Namespace tracer-ns -Pod tracer-app -Port $PodPort -Duration 3)
        $events.Count | Should -BeGreaterThan 0
        foreach ($e in $events) {
            $e.Pod | Should -BeExactly 'tracer-app'
            $e.Address.Port | Should -Be $PodPort
            $e.Protocol | Should -Be ([Gadget.IpProtocol]::Tcp)
        }
    }

    It 'Trace-GadgetMount and Trace-GadgetCapabilities show the mount the container may not make' {
        $mounts = @(Trace-GadgetMount -Local -Namespace tracer-ns -Duration 3)
        $mounts.Count | Should -BeGreaterThan 0
        foreach ($e in $mounts) {
            $e.Pod | Should -BeExactly 'tracer-app'
            $e.Target | Should -BeExactly '/mnt'
            $e.FsType | Should -BeExactly 'tmpfs'
            $e.Error | Should -Be ([Gadget.Errno]::EPERM)
        }
        $checks = @(Trace-GadgetCapabilities -Local -Namespace tracer-ns -Pod tracer-app -Capability CAP_SYS_ADMIN -Denied -Duration 3)
        # busybox's shell may run the mount applet without an exec, as sh.
        @($checks | Where-Object Comm -in 'sh', 'mount').Count | Should -BeGreaterThan 0
        foreach ($e in $checks) {
            $e.Pod | Should -BeExactly 'tracer-app'
            $e.Capability | Should -Be ([Gadget.Capability]::CAP_SYS_ADMIN)
            $e.Granted | Should -BeFalse
        }
    }

    It 'Trace-GadgetOomKill names the pod of the process killed' {
        $kill = Trace-GadgetOomKill -Local -Namespace tracer-ns -MaxEvents 1 -Duration 20
        $kill | Should -Not -BeNullOrEmpty
        $kill.Pod | Should -BeExactly 'tracer-hog'
        $kill.Container | Should -BeExactly 'tracer-hog'
        $kill.Comm | Should -BeIn 'sh', 'head', 'tr'
        $kill.OomScoreAdj | Should -Be 1000
    }
}
