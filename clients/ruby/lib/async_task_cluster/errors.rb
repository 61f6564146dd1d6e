# frozen_string_literal: true

module AsyncTaskCluster
  # An operator action that the attempt's status does not allow (e.g. expiring a succeeded attempt), with the
  # cluster's wording (`asynctask attempts expire`).
  class InvalidStateError < StandardError; end

  # Stored arguments that cannot be read: an unknown key id, a tampered envelope, a YAML document with no
  # JSON form. The message names the row and the reason, never the arguments.
  class ArgumentsError < StandardError; end
end
