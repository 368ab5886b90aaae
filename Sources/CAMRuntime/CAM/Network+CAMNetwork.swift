/// The runtime's networks are what the CAM methods run on.
extension Network: CAMNetwork {}
