# frozen_string_literal: true

# Shared by the test scripts: polls the block every 20 ms until it is true, or raises naming `what` after `timeout`
# seconds.
def wait_for(what, timeout: 20)
  deadline = Time.now + timeout
  until yield
    raise "timed out waiting for #{what}" if Time.now > deadline

    sleep 0.02
  end
end
